//! Helpers shared by unit tests of several modules.

/// The nice values of this process's threads named `name` (field 19 of their `stat`; Linux).
pub(crate) fn nice_of_threads(name: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // The fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let nice: i64 = rest.split_whitespace().nth(16).unwrap().parse().unwrap();
        out.push(nice);
    }
    out
}
