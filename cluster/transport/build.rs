//! Compiles `proto/peer.proto` with a vendored `protoc`, handed to prost-build for this build
//! script only (a global `PROTOC` would change how raft-proto builds).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    config.bytes(["."]);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_with_config(config, &["../../proto/peer.proto"], &["../../proto"])?;
    // etcd's KV.Put, for the side-by-side replicated-log benchmark only (client stubs).
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .compile_with_config(config, &["benches/etcd/kv.proto"], &["benches/etcd"])?;
    println!("cargo:rerun-if-changed=../../proto/peer.proto");
    println!("cargo:rerun-if-changed=benches/etcd/kv.proto");
    Ok(())
}
