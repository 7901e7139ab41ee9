//! Sizing async-std's executor for a daemon.

/// Configures (and starts) async-std's executor with `threads` threads, before async-std
/// would start it with one thread per core on its first use; the first configuration wins.
/// `ASYNC_STD_THREAD_COUNT`, when set, still decides. Unlike setting that variable, this
/// leaves the environment that build commands inherit alone. Starts threads: call it after
/// daemonizing.
pub fn init_executor(threads: usize) {
    async_global_executor::init_with_config(
        async_global_executor::GlobalExecutorConfig::default()
            .with_env_var("ASYNC_STD_THREAD_COUNT")
            .with_min_threads(threads.max(1))
            .with_thread_name_fn(|| "async-std/runtime".to_owned()),
    );
}

/// Executor threads for a master: half the cores (at least one). Database statements run on
/// threads of their own (one per SQLite connection) and log compression on the blocking
/// pool, so the executor's own work (protocol, events, HTTP) needs fewer threads than cores;
/// on two cores one thread saves the cross-thread wake-ups (W1: about 15 % less CPU per
/// build, W5 and W3 unchanged).
pub fn master_executor_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get() / 2)
}
