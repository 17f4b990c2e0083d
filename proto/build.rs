//! Compiles `proto/huntsman.proto` with protox (pure Rust, no `protoc` needed) and
//! generates the Rust types with prost.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/huntsman.proto");
    let descriptors = protox::compile(["proto/huntsman.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
