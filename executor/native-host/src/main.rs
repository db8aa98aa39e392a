//! `rampart-contract-host`: the daemon that runs inside a native-contract sandbox.
//!
//! ```text
//! rampart-contract-host serve --connect /run/rampart/node.sock --cache-dir /tmp/cache [limits]
//! rampart-contract-host exec  [limits] -- /tmp/cache/<hash>     (internal: starts one contract)
//! ```
//!
//! `serve` connects to the node's Unix socket, then serves the `ContractHost` gRPC service
//! (`proto/contract_host.proto`) on that one connection. It holds binaries by hash and runs every
//! call in a fresh contract process, relaying the contract's frames (`proto/NATIVE_ABI.md`) to the
//! node. When the node goes away the daemon kills its contract processes and exits, so a sandbox
//! never outlives its node for long.
//!
//! `exec` is the first step of every contract process: it sets the rlimits, drops to the
//! contract uid and `exec`s the binary. Doing this in a separate `exec` of this same (static)
//! binary keeps the workspace free of `unsafe` (no `pre_exec` hook is needed).
//!
//! The binary is built statically (`-C target-feature=+crt-static`), so the sandbox's root file
//! system needs nothing but this file.

mod contract;
mod exec;
mod frame;
mod options;
mod service;

pub mod pb {
    #![allow(missing_debug_implementations, clippy::all)]
    tonic::include_proto!("rampart.contract_host.v1");
}

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => match options::ServeOptions::parse(&args[1..]) {
            Ok(opts) => service::serve_main(opts),
            Err(e) => usage(&e),
        },
        Some("exec") => match options::ExecOptions::parse(&args[1..]) {
            Ok(opts) => exec::exec_main(opts),
            Err(e) => usage(&e),
        },
        // Internal: kill every process of the contract uid (run by `serve` between calls).
        Some("sweep") => match options::ExecOptions::parse_limits(&args[1..]) {
            Ok(opts) => exec::sweep_main(opts),
            Err(e) => usage(&e),
        },
        Some("--version") => {
            println!("rampart-contract-host {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => usage("expected a subcommand: serve | exec"),
    }
}

fn usage(error: &str) -> ExitCode {
    eprintln!("rampart-contract-host: {error}");
    eprintln!(
        "usage: rampart-contract-host serve --connect SOCKET --cache-dir DIR [--uid N --gid N] \
         [--sweep] [--memory-bytes N] [--nproc N] [--cpu-seconds N] [--max-frame-bytes N] \
         [--max-output-bytes N] [--max-binary-bytes N]"
    );
    ExitCode::from(2)
}
