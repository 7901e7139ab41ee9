//! Giving back the memory of start-up code.
//!
//! A long-running process maps the pages of its program it has run. Starting a master runs
//! a lot of code once (configuration loading, schema checks, template compilation, driver
//! set-up) and never again; the kernel keeps those pages mapped, and counted in the
//! process's resident memory, until memory runs short. Measured on an idle master (W4):
//! 15 MiB of mapped code after start-up, of which the idle master uses about 2 MiB.
//! [`release_startup_code`] asks the kernel to reclaim the program's read-only pages now
//! (`madvise(MADV_PAGEOUT)`, Linux 5.4+) and, from then on, to map them one page at a time
//! as they run (`MADV_RANDOM`: without it every fault maps the 64 KiB around the page, which
//! brings most of the program back with the first few requests). Pages that are needed
//! again come back from the page cache or the file on their next use. Nothing else changes:
//! the pages are the unmodified contents of the executable file.

/// Reclaims the resident pages of this program's read-only mappings (code and constants),
/// returning how many bytes of mappings were handed to the kernel (0 where unsupported).
pub fn release_startup_code() -> usize {
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

    #[test]
    fn released_code_leaves_memory_and_comes_back_on_use() {
        let before = rss_file_kib();
        assert!(release_startup_code() > 0);
        let after = rss_file_kib();
        assert!(after < before, "RssFile {before} kB -> {after} kB");
        // the program goes on running from the file
        let v: Vec<u64> = (0..1000).map(|i| i * i).collect();
        assert_eq!(v.iter().sum::<u64>(), 332_833_500);
        assert!(format!("{:?}", std::fs::read_link("/proc/self/exe")).contains('/'));
    }
}
