use async_std::channel::{self, Receiver};

use super::DaemonError;

/// The signals a daemon reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// SIGTERM: stop.
    Term,
    /// SIGINT: stop (Ctrl-C in the foreground).
    Int,
    /// SIGHUP: reconfigure (master) or graceful shutdown (slave, if allowed).
    Hup,
    /// SIGUSR1: clean shutdown (master).
    Usr1,
    /// SIGUSR2: re-open the log file.
    Usr2,
}

impl Signal {
    /// The raw signal number.
    pub fn number(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Int => libc::SIGINT,
            Signal::Hup => libc::SIGHUP,
            Signal::Usr1 => libc::SIGUSR1,
            Signal::Usr2 => libc::SIGUSR2,
        }
    }

    fn from_number(n: libc::c_int) -> Option<Signal> {
        [
            Signal::Term,
            Signal::Int,
            Signal::Hup,
            Signal::Usr1,
            Signal::Usr2,
        ]
        .into_iter()
        .find(|s| s.number() == n)
    }

    /// The conventional name (`"SIGTERM"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
            Signal::Hup => "SIGHUP",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
        }
    }
}

/// Delivers signals as async events.
///
/// Registering a signal replaces its default action (e.g. SIGTERM no longer kills
/// the process): the program decides. A helper thread forwards the signals to a
/// channel, so create this only after [`super::daemonize`].
#[derive(Debug)]
pub struct Signals {
    rx: Receiver<Signal>,
    handle: signal_hook::iterator::Handle,
}

impl Signals {
    /// Starts catching `signals`.
    pub fn new(signals: &[Signal]) -> Result<Self, DaemonError> {
        let numbers: Vec<libc::c_int> = signals.iter().map(|s| s.number()).collect();
        let mut iter =
            signal_hook::iterator::Signals::new(&numbers).map_err(|source| DaemonError::Sys {
                call: "sigaction",
                source,
            })?;
        let handle = iter.handle();
        let (tx, rx) = channel::unbounded();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for n in iter.forever() {
                    if let Some(sig) = Signal::from_number(n)
                        && tx.send_blocking(sig).is_err()
                    {
                        break;
                    }
                }
            })
            .map_err(|source| DaemonError::Sys {
                call: "thread spawn",
                source,
            })?;
        Ok(Signals { rx, handle })
    }

    /// The next signal; `None` once closed.
    pub async fn recv(&self) -> Option<Signal> {
        self.rx.recv().await.ok()
    }

    /// A receiver of the signals, for use in `select!`-style code.
    pub fn receiver(&self) -> Receiver<Signal> {
        self.rx.clone()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.handle.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usr2_arrives_as_event() {
        let signals = Signals::new(&[Signal::Usr2]).unwrap();
        // SAFETY: sending a handled signal to ourselves.
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
        let got = async_std::task::block_on(async_std::future::timeout(
            std::time::Duration::from_secs(5),
            signals.recv(),
        ));
        assert_eq!(got.unwrap(), Some(Signal::Usr2));
    }
}
