//! Compiles `proto/contract_host.proto` (client side). protoc comes from `protoc-bin-vendored`
//! and is handed to prost-build directly: no global `PROTOC`, which would change how other
//! crates (raft-proto) build.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/contract_host.proto";
    println!("cargo:rerun-if-changed={proto}");
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .compile_with_config(config, &[proto], &["../../proto"])?;
    Ok(())
}
