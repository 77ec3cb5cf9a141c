//! What a figure needs next to it: the machine, the load while it was measured, how much
//! CPU and I/O a process used, and how many bytes a directory holds. Linux `/proc` only;
//! anything unreadable is reported as absent rather than guessed.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

/// The machine a run was measured on.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub cpus: usize,
    /// `model name` of the first CPU.
    pub cpu_model: String,
    /// Whether the CPU advertises AES-NI and carry-less multiply (AES-GCM-SIV in hardware).
    pub aes_ni: bool,
    /// Total memory in bytes.
    pub mem_bytes: u64,
    /// Kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads `/proc`.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        let flags = field("flags").unwrap_or_default();
        let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: field("model name").unwrap_or_else(|| "unknown".into()),
            aes_ni: has("aes") && has("pclmulqdq"),
            mem_bytes: mem_kib * 1024,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> Value {
        json!({"cpus": self.cpus, "cpu_model": self.cpu_model, "aes_ni_and_clmul": self.aes_ni,
               "mem_bytes": self.mem_bytes, "kernel": self.kernel})
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut parts = text.split_whitespace().map(|p| p.parse::<f64>().ok());
    Some([parts.next()??, parts.next()??, parts.next()??])
}

/// Clock ticks per second of `/proc` times (asked once).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// CPU seconds (user + system) a process and its reaped children have used so far.
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after its closing parenthesis
    // start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    Some((ticks(14)? + ticks(15)?) / clock_ticks())
}

/// CPU seconds a process has used including its reaped children (a stopped server counts
/// once it has been waited for).
pub fn process_tree_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    Some((ticks(14)? + ticks(15)? + ticks(16)? + ticks(17)?) / clock_ticks())
}

/// Busy and steal CPU seconds of the whole machine so far (`/proc/stat`, all CPUs).
pub fn machine_cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse::<f64>().unwrap_or(0.0))
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let get = |i: usize| v.get(i).copied().unwrap_or(0.0);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6);
    Some((busy / clock_ticks(), get(7) / clock_ticks()))
}

/// Measures how much CPU everything else on the machine used over an interval: the
/// machine's busy time minus that of the processes being measured. A figure taken while
/// others were busy says so.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    started: std::time::Instant,
    machine: Option<(f64, f64)>,
    ours: f64,
}

/// What a [`CpuMeter`] saw. `/proc` counts in clock ticks (10 ms), so intervals shorter than
/// a second or so give noisy figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuUse {
    /// Wall seconds.
    pub seconds: f64,
    /// CPU seconds of the measured processes.
    pub ours: f64,
    /// CPU seconds of every other process (and the kernel's work for them).
    pub others: f64,
    /// Seconds the hypervisor ran someone else on our CPUs.
    pub steal: f64,
}

impl CpuUse {
    /// Average number of cores the other processes kept busy.
    pub fn others_cores(&self) -> f64 {
        self.others / self.seconds.max(1e-9)
    }

    /// As JSON.
    pub fn to_json(&self) -> Value {
        use crate::stats::round3;
        json!({"seconds": round3(self.seconds), "our_cpu_seconds": round3(self.ours),
               "other_processes_cpu_seconds": round3(self.others),
               "other_processes_cores": round3(self.others_cores()),
               "steal_seconds": round3(self.steal)})
    }
}

fn ours(pids: &[u32]) -> f64 {
    pids.iter()
        .map(|&pid| process_tree_cpu_seconds(pid).unwrap_or(0.0))
        .sum()
}

impl CpuMeter {
    /// Starts measuring; `pids` are the processes that are ours (this one, its server).
    pub fn start(pids: &[u32]) -> CpuMeter {
        CpuMeter {
            started: std::time::Instant::now(),
            machine: machine_cpu_seconds(),
            ours: ours(pids),
        }
    }

    /// What happened since [`CpuMeter::start`]; pass the same processes, minus any that
    /// have exited and been reaped by a process in the list.
    pub fn stop(&self, pids: &[u32]) -> Option<CpuUse> {
        let (busy0, steal0) = self.machine?;
        let (busy1, steal1) = machine_cpu_seconds()?;
        let ours = (ours(pids) - self.ours).max(0.0);
        Some(CpuUse {
            seconds: self.started.elapsed().as_secs_f64(),
            ours,
            others: (busy1 - busy0 - ours).max(0.0),
            steal: (steal1 - steal0).max(0.0),
        })
    }
}

/// Bytes a process has caused to be read from and written to storage so far
/// (`read_bytes`, `write_bytes` of `/proc/{pid}/io`).
pub fn process_io_bytes(pid: u32) -> Option<(u64, u64)> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let get = |name: &str| {
        io.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((get("read_bytes:")?, get("write_bytes:")?))
}

/// Bytes under a directory, by kind of RocksDB file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirSize {
    /// Every regular file.
    pub total: u64,
    /// Table files (`*.sst`).
    pub sst: u64,
    /// Write-ahead logs (`*.log`).
    pub wal: u64,
    /// RocksDB's informational logs (`LOG`, `LOG.old.*`).
    pub info_log: u64,
    /// Everything else (`MANIFEST-*`, `OPTIONS-*`, `CURRENT`, keys, configs).
    pub other: u64,
    /// Number of files.
    pub files: u64,
}

impl DirSize {
    /// Walks `dir` (symlinks are not followed; a file hard-linked several times, as RocksDB
    /// checkpoints link SST files, counts once).
    pub fn of(dir: &Path) -> std::io::Result<DirSize> {
        use std::os::unix::fs::MetadataExt;
        let mut seen = std::collections::HashSet::new();
        let mut size = DirSize::default();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(path) = pending.pop() {
            for entry in std::fs::read_dir(&path)? {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    pending.push(entry.path());
                    continue;
                }
                if !kind.is_file() {
                    continue;
                }
                let meta = entry.metadata()?;
                if !seen.insert((meta.dev(), meta.ino())) {
                    continue;
                }
                let len = meta.len();
                let name = entry.file_name().to_string_lossy().into_owned();
                size.total += len;
                size.files += 1;
                if name.ends_with(".sst") {
                    size.sst += len;
                } else if name.ends_with(".log") {
                    size.wal += len;
                } else if name == "LOG" || name.starts_with("LOG.old") {
                    size.info_log += len;
                } else {
                    size.other += len;
                }
            }
        }
        Ok(size)
    }

    /// As JSON, with bytes per read for `reads` reads.
    pub fn to_json(&self, reads: usize) -> Value {
        let per = |b: u64| crate::stats::round3(b as f64 / reads.max(1) as f64);
        json!({"total_bytes": self.total, "sst_bytes": self.sst, "wal_bytes": self.wal,
               "info_log_bytes": self.info_log, "other_bytes": self.other, "files": self.files,
               "bytes_per_read": per(self.total), "sst_bytes_per_read": per(self.sst)})
    }
}

/// Directories under `root` (at most four levels down) that hold a RocksDB database (a
/// `CURRENT` file), sorted.
pub fn find_rocksdb_dirs(root: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        if dir.join("CURRENT").is_file() {
            found.push(dir.clone());
        }
        if depth == 4 {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push((entry.path(), depth + 1));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Waits until processes other than `pids` keep less than `max_cores` of the machine busy
/// over a `window`, for at most `limit`. Returns the seconds waited and whether the machine
/// became quiet.
pub fn wait_until_quiet(
    pids: &[u32],
    max_cores: f64,
    window: std::time::Duration,
    limit: std::time::Duration,
) -> (f64, bool) {
    let started = std::time::Instant::now();
    loop {
        let meter = CpuMeter::start(pids);
        std::thread::sleep(window);
        let quiet = meter
            .stop(pids)
            .is_none_or(|used| used.others_cores() < max_cores);
        if quiet || started.elapsed() >= limit {
            return (started.elapsed().as_secs_f64(), quiet);
        }
    }
}

/// Table-file bytes and estimated keys of one column family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilySize {
    /// Column family name.
    pub name: String,
    /// `rocksdb.total-sst-files-size`.
    pub sst_bytes: u64,
    /// `rocksdb.estimate-num-keys`.
    pub keys: u64,
}

/// Per-column-family sizes of the (closed) RocksDB database at `path`, opened read-only.
pub fn rocksdb_family_sizes(path: &Path) -> anyhow::Result<Vec<FamilySize>> {
    let opts = rocksdb::Options::default();
    let names = rocksdb::DB::list_cf(&opts, path)?;
    let db = rocksdb::DB::open_cf_for_read_only(&opts, path, &names, false)?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let cf = db
            .cf_handle(&name)
            .ok_or_else(|| anyhow::anyhow!("column family {name} listed but not opened"))?;
        let int = |property: &str| -> anyhow::Result<u64> {
            Ok(db.property_int_value_cf(cf, property)?.unwrap_or(0))
        };
        out.push(FamilySize {
            sst_bytes: int("rocksdb.total-sst-files-size")?,
            keys: int("rocksdb.estimate-num-keys")?,
            name,
        });
    }
    Ok(out)
}

/// Family sizes as JSON, with bytes per read for `reads` reads.
pub fn family_sizes_json(families: &[FamilySize], reads: usize) -> Value {
    families
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                json!({"sst_bytes": f.sst_bytes, "keys": f.keys,
                       "bytes_per_read": crate::stats::round3(f.sst_bytes as f64 / reads.max(1) as f64)}),
            )
        })
        .collect::<serde_json::Map<String, Value>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_size_classifies_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        for (name, len) in [("db/000012.sst", 100), ("db/000013.log", 10), ("db/LOG", 5)] {
            std::fs::write(dir.path().join(name), vec![0u8; len]).unwrap();
        }
        std::fs::write(dir.path().join("master.key"), b"k").unwrap();
        std::fs::hard_link(
            dir.path().join("db/000012.sst"),
            dir.path().join("db/linked.sst"),
        )
        .unwrap();
        let size = DirSize::of(dir.path()).unwrap();
        assert_eq!(
            (
                size.total,
                size.sst,
                size.wal,
                size.info_log,
                size.other,
                size.files
            ),
            (116, 100, 10, 5, 1, 4)
        );
    }

    #[test]
    fn this_process_has_cpu_time_and_the_machine_is_known() {
        assert!(process_cpu_seconds(std::process::id()).is_some());
        assert!(Machine::detect().cpus >= 1);
        assert!(load_average().is_some());
        let meter = CpuMeter::start(&[std::process::id()]);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let used = meter.stop(&[std::process::id()]).unwrap();
        assert!(used.seconds > 0.0 && used.others >= 0.0, "{used:?}");
    }
}
