//! Command-line options. Hand-parsed: the daemon stays small and starts fast.

use std::path::PathBuf;

/// Limits applied to every contract process (see docs/native-contracts.md for the defaults the
/// node passes).
#[derive(Debug, Clone)]
pub struct ProcessLimits {
    /// Uid/gid the contract runs as; `None` keeps the daemon's own (development only).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `RLIMIT_AS` in bytes.
    pub memory_bytes: u64,
    /// `RLIMIT_NPROC` for the contract uid.
    pub nproc: u64,
    /// `RLIMIT_CPU`, a backstop behind the wall-clock limit.
    pub cpu_seconds: u64,
    /// Kill every process of the contract uid between calls. Only safe inside a sandbox with its
    /// own pid namespace, where that uid runs nothing else.
    pub sweep: bool,
}

impl Default for ProcessLimits {
    fn default() -> Self {
        Self {
            uid: None,
            gid: None,
            memory_bytes: 256 << 20,
            nproc: 32,
            cpu_seconds: 10,
            sweep: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub connect: PathBuf,
    pub cache_dir: PathBuf,
    pub limits: ProcessLimits,
    /// Largest frame payload a contract may write.
    pub max_frame_bytes: u32,
    /// Total bytes a contract may write to stdout in one call.
    pub max_output_bytes: u64,
    pub max_binary_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub limits: ProcessLimits,
    pub program: PathBuf,
}

fn num(flag: &str, v: Option<&String>) -> Result<u64, String> {
    v.ok_or_else(|| format!("{flag} needs a value"))?
        .parse()
        .map_err(|e| format!("{flag}: {e}"))
}

/// Parses the limit flags shared by `serve` and `exec`; returns `false` for an unknown flag.
fn parse_limit(
    limits: &mut ProcessLimits,
    flag: &str,
    it: &mut std::slice::Iter<'_, String>,
) -> Result<bool, String> {
    match flag {
        "--uid" => {
            limits.uid = Some(u32::try_from(num(flag, it.next())?).map_err(|e| e.to_string())?)
        }
        "--gid" => {
            limits.gid = Some(u32::try_from(num(flag, it.next())?).map_err(|e| e.to_string())?)
        }
        "--memory-bytes" => limits.memory_bytes = num(flag, it.next())?,
        "--nproc" => limits.nproc = num(flag, it.next())?,
        "--cpu-seconds" => limits.cpu_seconds = num(flag, it.next())?,
        "--sweep" => limits.sweep = true,
        _ => return Ok(false),
    }
    Ok(true)
}

impl ProcessLimits {
    /// The flags that reproduce these limits, for `exec`.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--memory-bytes".to_owned(),
            self.memory_bytes.to_string(),
            "--nproc".to_owned(),
            self.nproc.to_string(),
            "--cpu-seconds".to_owned(),
            self.cpu_seconds.to_string(),
        ];
        if let Some(uid) = self.uid {
            args.extend(["--uid".to_owned(), uid.to_string()]);
        }
        if let Some(gid) = self.gid {
            args.extend(["--gid".to_owned(), gid.to_string()]);
        }
        if self.sweep {
            args.push("--sweep".to_owned());
        }
        args
    }
}

impl ServeOptions {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut connect = None;
        let mut cache_dir = None;
        let mut limits = ProcessLimits::default();
        let mut max_frame_bytes = 1u32 << 20;
        let mut max_output_bytes = 8u64 << 20;
        let mut max_binary_bytes = 32u64 << 20;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if parse_limit(&mut limits, flag, &mut it)? {
                continue;
            }
            match flag.as_str() {
                "--connect" => connect = it.next().map(PathBuf::from),
                "--cache-dir" => cache_dir = it.next().map(PathBuf::from),
                "--max-frame-bytes" => {
                    max_frame_bytes =
                        u32::try_from(num(flag, it.next())?).map_err(|e| e.to_string())?
                }
                "--max-output-bytes" => max_output_bytes = num(flag, it.next())?,
                "--max-binary-bytes" => max_binary_bytes = num(flag, it.next())?,
                other => return Err(format!("unknown flag {other}")),
            }
        }
        Ok(Self {
            connect: connect.ok_or("--connect is required")?,
            cache_dir: cache_dir.ok_or("--cache-dir is required")?,
            limits,
            max_frame_bytes,
            max_output_bytes,
            max_binary_bytes,
        })
    }
}

impl ExecOptions {
    /// Limit flags only (for `sweep`, which runs no program).
    pub fn parse_limits(args: &[String]) -> Result<Self, String> {
        let mut limits = ProcessLimits::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if !parse_limit(&mut limits, flag, &mut it)? {
                return Err(format!("unknown flag {flag}"));
            }
        }
        Ok(Self {
            limits,
            program: PathBuf::new(),
        })
    }

    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut limits = ProcessLimits::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--" {
                let program = it.next().ok_or("exec: missing program after --")?;
                return Ok(Self {
                    limits,
                    program: PathBuf::from(program),
                });
            }
            if !parse_limit(&mut limits, flag, &mut it)? {
                return Err(format!("unknown flag {flag}"));
            }
        }
        Err("exec: missing -- PROGRAM".to_owned())
    }
}
