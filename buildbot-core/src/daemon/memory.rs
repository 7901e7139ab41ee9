//! Giving memory back when it is not in use.
//!
//! A long-running process maps the pages of its program it has run. Starting a master runs
//! a lot of code once (configuration loading, schema checks, template compilation, driver
//! set-up) and never again; the kernel keeps those pages mapped, and counted in the
//! process's resident memory, until memory runs short. Measured on an idle master (W4):
//! 15 MiB of mapped code after start-up, of which the idle master uses about 2 MiB.
//! [`release_program_pages`] asks the kernel to reclaim the program's read-only pages now
//! (`madvise(MADV_PAGEOUT)`, Linux 5.4+) and, from then on, to map them one page at a time
//! as they run (`MADV_RANDOM`; kernels from 6.x fault the 64 KiB around a page in anyway).
//! Pages that are needed again come back from the page cache or the file on their next use.
//! Nothing else changes: the pages are the unmodified contents of the executable file.
//!
//! Released once at start-up, much of it comes back: the first worker connections and
//! requests run code of their own and fault its neighbourhood in. [`release_memory_when_idle`]
//! therefore watches the process's CPU time and gives memory back whenever the process has
//! worked since the last release and then been idle for a while: the program's pages as
//! above, and the C heap's free pages (`malloc_trim`, glibc).

use std::time::{Duration, Instant};

/// How long the `buildbot` and `buildslave` daemons stay idle before giving memory back.
pub const IDLE_RELEASE_AFTER: Duration = Duration::from_secs(5);

/// CPU share under which a sampling period counts as idle (1 %).
const IDLE_SHARE: u32 = 100;
/// CPU time the process must have used since the last release before another is worth it.
const WORK_BEFORE_RELEASE: Duration = Duration::from_millis(50);

/// Decides, from samples of the process's CPU time, when to give memory back: after
/// `quiet` without a busy sampling period, once at least [`WORK_BEFORE_RELEASE`] of CPU
/// time was used since the previous release (or since start).
#[derive(Debug)]
pub(crate) struct IdleTracker {
    quiet: Duration,
    last: Option<(Instant, Duration)>,
    busy_at: Instant,
    released_at_cpu: Option<Duration>,
}

impl IdleTracker {
    pub(crate) fn new(quiet: Duration, now: Instant) -> Self {
        IdleTracker {
            quiet,
            last: None,
            busy_at: now,
            released_at_cpu: None,
        }
    }

    /// Records a sample; `true` when memory should be released now.
    pub(crate) fn sample(&mut self, now: Instant, cpu: Duration) -> bool {
        if let Some((t, c)) = self.last.replace((now, cpu)) {
            let wall = now.saturating_duration_since(t);
            if cpu.saturating_sub(c) > wall / IDLE_SHARE {
                self.busy_at = now;
            }
        }
        let worked = self
            .released_at_cpu
            .is_none_or(|r| cpu.saturating_sub(r) >= WORK_BEFORE_RELEASE);
        now.saturating_duration_since(self.busy_at) >= self.quiet && worked
    }

    /// Notes that memory was released at `cpu` (the process's CPU time after releasing).
    pub(crate) fn released(&mut self, now: Instant, cpu: Duration) {
        self.released_at_cpu = Some(cpu);
        self.last = Some((now, cpu));
    }
}

/// CPU time (user + system) the process has used.
fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the provided struct.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Gives memory the process is not using back to the system now: the C heap's free pages
/// (glibc's `malloc_trim`) and the resident pages of the program ([`release_program_pages`]).
/// Returns the bytes of program mappings handed to the kernel.
pub fn release_idle_memory() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
    release_program_pages()
}

/// Starts a background task that calls [`release_idle_memory`] each time the process has
/// been idle (under 1 % CPU) for `quiet` after having worked (see the module text). It
/// samples the process's CPU time every `quiet / 4` (at least every 250 ms) and runs until
/// the process exits.
pub fn release_memory_when_idle(quiet: Duration) {
    let tick = (quiet / 4).max(Duration::from_millis(250));
    async_std::task::spawn(async move {
        let mut tracker = IdleTracker::new(quiet, Instant::now());
        loop {
            async_std::task::sleep(tick).await;
            if tracker.sample(Instant::now(), process_cpu_time()) {
                let released = release_idle_memory();
                log::debug!(
                    "idle for {} s: released {} KiB of program pages and the free heap",
                    quiet.as_secs_f64(),
                    released / 1024
                );
                tracker.released(Instant::now(), process_cpu_time());
            }
        }
    });
}

/// Reclaims the resident pages of this program's read-only mappings (code and constants),
/// returning how many bytes of mappings were handed to the kernel (0 where unsupported).
pub fn release_program_pages() -> usize {
    #[cfg(target_os = "linux")]
    {
        linux::release()
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

#[cfg(target_os = "linux")]
mod linux {
    /// `start-end perms offset dev inode path` lines of `/proc/self/maps` that map `exe`
    /// read-only: `(start, length)`.
    pub(super) fn read_only_ranges(maps: &str, exe: &str) -> Vec<(usize, usize)> {
        maps.lines()
            .filter_map(|line| {
                let mut f = line.split_whitespace();
                let range = f.next()?;
                let perms = f.next()?;
                let path = f.nth(3)?;
                if path != exe || perms.as_bytes().get(1) != Some(&b'-') {
                    return None;
                }
                let (a, b) = range.split_once('-')?;
                let a = usize::from_str_radix(a, 16).ok()?;
                let b = usize::from_str_radix(b, 16).ok()?;
                (b > a).then_some((a, b - a))
            })
            .collect()
    }

    pub(super) fn release() -> usize {
        let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
            return 0;
        };
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return 0;
        };
        let Some(exe) = exe.to_str() else {
            return 0;
        };
        let mut released = 0;
        for (start, len) in read_only_ranges(&maps, exe) {
            let addr = start as *mut libc::c_void;
            // SAFETY: the range is a whole mapping of this process, read-only and backed by
            // the executable file; both advices only change which of its pages are resident
            // (never their contents, which are read back unchanged from the file).
            let r = unsafe {
                libc::madvise(addr, len, libc::MADV_RANDOM);
                libc::madvise(addr, len, libc::MADV_PAGEOUT)
            };
            if r == 0 {
                released += len;
            }
        }
        released
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn picks_the_read_only_mappings_of_the_program() {
        let maps = "\
5590a000-5590b000 r--p 00000000 fd:01 42 /usr/bin/buildbot
5590b000-5590f000 r-xp 00001000 fd:01 42 /usr/bin/buildbot
5590f000-55910000 rw-p 00005000 fd:01 42 /usr/bin/buildbot
7f00000-7f01000 r-xp 00000000 fd:01 7 /usr/lib/libc.so.6
7f02000-7f03000 rw-p 00000000 00:00 0
7ffd000-7ffe000 rw-p 00000000 00:00 0 [stack]
";
        assert_eq!(
            linux::read_only_ranges(maps, "/usr/bin/buildbot"),
            vec![(0x5590a000, 0x1000), (0x5590b000, 0x4000)]
        );
    }

    fn rss_file_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("RssFile:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn idle_tracker_releases_after_quiet_following_work() {
        let t0 = Instant::now();
        let mut t = IdleTracker::new(MS(3000), t0);
        // start-up: busy
        assert!(!t.sample(t0 + MS(1000), MS(400)));
        assert!(!t.sample(t0 + MS(2000), MS(500)));
        // quiet (under 1 %: 5 ms per second) but not long enough yet
        assert!(!t.sample(t0 + MS(3000), MS(505)));
        assert!(!t.sample(t0 + MS(4000), MS(510)));
        // three seconds after the last busy period
        assert!(t.sample(t0 + MS(5000), MS(515)));
        t.released(t0 + MS(5000), MS(530));
        // idle on: nothing new was done, so no second release
        for s in 6..20 {
            assert!(!t.sample(t0 + MS(s * 1000), MS(530)));
        }
        // a burst of work (a build), then quiet again: released once more
        assert!(!t.sample(t0 + MS(21_000), MS(700)));
        assert!(!t.sample(t0 + MS(23_000), MS(700)));
        assert!(t.sample(t0 + MS(24_000), MS(700)));
    }

    #[test]
    fn idle_tracker_waits_for_enough_work_and_for_quiet() {
        let t0 = Instant::now();
        let mut t = IdleTracker::new(MS(2000), t0);
        t.released(t0, MS(100));
        // busy but little work since the release: a keepalive here and there
        assert!(!t.sample(t0 + MS(500), MS(120)));
        assert!(!t.sample(t0 + MS(3000), MS(121)));
        assert!(!t.sample(t0 + MS(6000), MS(122)));
        // steady 2 % load never counts as idle, however much work piles up
        let mut cpu = MS(122);
        for s in 7..40 {
            cpu += MS(20);
            assert!(!t.sample(t0 + MS(s * 1000), cpu), "second {s}");
        }
    }

    #[test]
    fn released_code_leaves_memory_and_comes_back_on_use() {
        let before = rss_file_kib();
        assert!(release_program_pages() > 0);
        let after = rss_file_kib();
        assert!(after < before, "RssFile {before} kB -> {after} kB");
        // the program goes on running from the file
        let v: Vec<u64> = (0..1000).map(|i| i * i).collect();
        assert_eq!(v.iter().sum::<u64>(), 332_833_500);
        assert!(format!("{:?}", std::fs::read_link("/proc/self/exe")).contains('/'));
    }
}
