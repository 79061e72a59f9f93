//! Parsers for the `/proc` and cgroup v2 files the memory source reads. Each returns what it
//! found or a short reason, never panics.

/// A cgroup v2 memory file's value: a byte count, or `max` (no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CgroupValue {
    Max,
    Bytes(u64),
}

/// `memory.max` or `memory.current`: one line, a non-negative integer or `max`.
pub(crate) fn cgroup_value(text: &str) -> Result<CgroupValue, String> {
    match text.trim() {
        "" => Err("the file is empty".into()),
        "max" => Ok(CgroupValue::Max),
        t => t
            .parse::<u64>()
            .map(CgroupValue::Bytes)
            .map_err(|_| format!("expected a byte count or \"max\", found {:?}", clip(t))),
    }
}

/// The cgroup v2 path of the process: the `0::/path` line of `/proc/self/cgroup`.
pub(crate) fn cgroup_v2_path(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::trim)
}

/// A `Key:   1234 kB` line of `/proc/self/status` or `/proc/meminfo`, in bytes.
pub(crate) fn kib_field(text: &str, key: &str) -> Result<u64, String> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .ok_or_else(|| format!("no {key} line"))?;
    let mut words = line.split_whitespace();
    let kib = words
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|_| matches!(words.next(), Some("kB") | None))
        .ok_or_else(|| format!("{key} is not a size in kB: {:?}", clip(line.trim())))?;
    Ok(kib.saturating_mul(1024))
}

/// At most 40 characters of a bad value, for a readable warning.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_values() {
        assert_eq!(cgroup_value("max\n"), Ok(CgroupValue::Max));
        assert_eq!(cgroup_value("1048576\n"), Ok(CgroupValue::Bytes(1 << 20)));
        assert!(cgroup_value("").unwrap_err().contains("empty"));
        assert!(cgroup_value("-5").unwrap_err().contains("\"-5\""));
        assert!(cgroup_value("lots").is_err());
        assert!(cgroup_value("99999999999999999999999").is_err());
    }

    #[test]
    fn the_v2_line_is_found_among_v1_lines() {
        let text = "12:memory:/docker/abc\n0::/system.slice/app.service\n";
        assert_eq!(cgroup_v2_path(text), Some("/system.slice/app.service"));
        assert_eq!(cgroup_v2_path("4:cpu:/x\n"), None);
    }

    #[test]
    fn kib_fields() {
        let status = "Name:\tapp\nVmRSS:\t   2048 kB\nVmSwap:\t0 kB\n";
        assert_eq!(kib_field(status, "VmRSS"), Ok(2048 * 1024));
        assert!(kib_field(status, "VmHWM").unwrap_err().contains("no VmHWM"));
        assert!(kib_field("VmRSS: many kB\n", "VmRSS").is_err());
        assert!(kib_field("VmRSS: 12 MB\n", "VmRSS").is_err());
        assert!(kib_field("VmRSSX: 12 kB\n", "VmRSS").is_err());
    }
}
