//! `exec`: the first step of every contract process. Sets rlimits, drops to the contract uid,
//! optionally sweeps stray processes of that uid, then replaces itself with the contract binary.
//! Runs single-threaded (no runtime is started for this subcommand), so per-process credential
//! changes are safe.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use nix::sys::resource::{Resource, setrlimit};
use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};

use crate::options::ExecOptions;

pub fn exec_main(opts: ExecOptions) -> ExitCode {
    if let Err(e) = confine(&opts) {
        eprintln!("rampart-contract-host exec: {e}");
        return ExitCode::from(126);
    }
    // `exec` only returns on failure.
    let err = Command::new(&opts.program)
        .env_clear()
        .current_dir("/")
        .exec();
    eprintln!(
        "rampart-contract-host exec: cannot start {}: {err}",
        opts.program.display()
    );
    ExitCode::from(127)
}

fn confine(opts: &ExecOptions) -> Result<(), String> {
    let l = &opts.limits;
    let set = |r: Resource, v: u64| setrlimit(r, v, v).map_err(|e| format!("setrlimit {r:?}: {e}"));
    set(Resource::RLIMIT_AS, l.memory_bytes)?;
    set(Resource::RLIMIT_NPROC, l.nproc)?;
    set(Resource::RLIMIT_CPU, l.cpu_seconds)?;
    set(Resource::RLIMIT_CORE, 0)?;
    set(Resource::RLIMIT_FSIZE, 0)?;
    if let Some(gid) = l.gid {
        setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
        setgid(Gid::from_raw(gid)).map_err(|e| format!("setgid {gid}: {e}"))?;
    }
    if let Some(uid) = l.uid {
        setuid(Uid::from_raw(uid)).map_err(|e| format!("setuid {uid}: {e}"))?;
    }
    Ok(())
}

/// `sweep`: kills every process of the current (contract) uid except the caller. Run by the
/// daemon between calls, inside a sandbox's own pid namespace only.
pub fn sweep_current_uid() {
    use nix::errno::Errno;
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    // kill(-1) reaches every process this uid may signal; repeat while a fork bomb still has
    // processes being born. Done when none but zombies (reaped by the daemon) is left.
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let uid = nix::unistd::getuid().as_raw();
    for _ in 0..200 {
        if let Err(Errno::ESRCH) = kill(Pid::from_raw(-1), Signal::SIGKILL) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        if crate::contract::processes_of_uid(uid, &[me]).is_empty() {
            return;
        }
    }
}

pub fn sweep_main(opts: ExecOptions) -> ExitCode {
    if let Err(e) = confine(&opts) {
        eprintln!("rampart-contract-host sweep: {e}");
        return ExitCode::from(126);
    }
    sweep_current_uid();
    ExitCode::SUCCESS
}
