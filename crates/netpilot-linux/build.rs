//! Compiles the eBPF packet counter (bpf/traffic.bpf.c) with clang when one is found.
//! Without clang netpilot still builds, and reports UDP bytes as "not built in".
//!
//! Environment: `CLANG` names the compiler (else `clang`, then `clang-19` … `clang-14`);
//! `NETPILOT_REQUIRE_BPF=1` makes a failed compile an error (CI sets it, so the BPF path
//! is always built and tested there); `NETPILOT_NO_BPF=1` leaves the counter out on
//! purpose (to try the fallback).

use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "bpf/traffic.bpf.c";

fn main() {
    println!("cargo::rerun-if-changed={SOURCE}");
    for var in ["CLANG", "NETPILOT_REQUIRE_BPF", "NETPILOT_NO_BPF"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rustc-check-cfg=cfg(netpilot_bpf)");
    let required = std::env::var_os("NETPILOT_REQUIRE_BPF").is_some_and(|v| v == "1");
    if std::env::var_os("NETPILOT_NO_BPF").is_some_and(|v| v == "1") {
        if required {
            panic!("NETPILOT_NO_BPF=1 and NETPILOT_REQUIRE_BPF=1 contradict each other");
        }
        println!("cargo::warning=NETPILOT_NO_BPF=1: UDP byte counting is not built in");
        return;
    }
    match compile() {
        Ok(()) => println!("cargo::rustc-cfg=netpilot_bpf"),
        Err(why) if required => panic!("the eBPF counter did not build: {why}"),
        Err(why) => println!(
            "cargo::warning=UDP byte counting is not built in: {why} (install clang and rebuild)"
        ),
    }
}

/// Two objects: one that counts only netpilot's network namespace, and one for kernels
/// before 6.14 whose cgroup_skb programs cannot tell namespaces apart.
fn compile() -> Result<(), String> {
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    compile_one(&out.join("traffic.bpf.o"), "-DNETNS_FILTER=1")?;
    compile_one(
        &out.join("traffic-all-namespaces.bpf.o"),
        "-DNETNS_FILTER=0",
    )
}

fn compile_one(object: &std::path::Path, define: &str) -> Result<(), String> {
    let candidates: Vec<String> = match std::env::var("CLANG") {
        Ok(clang) => vec![clang],
        Err(_) => std::iter::once("clang".to_string())
            .chain((14..=19).rev().map(|v| format!("clang-{v}")))
            .collect(),
    };
    // Debian keeps <asm/types.h> (included by <linux/bpf.h>) in the multiarch directory,
    // which `-target bpf` does not search.
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = format!("/usr/include/{arch}-linux-gnu");
    let mut last = String::from("no clang found");
    for clang in &candidates {
        let mut command = Command::new(clang);
        command.args(["-target", "bpf", "-O2", "-g", "-Wall", "-Werror", define]);
        if std::path::Path::new(&multiarch).is_dir() {
            command.arg(format!("-I{multiarch}"));
        }
        command.args(["-c", SOURCE, "-o"]).arg(object);
        match command.output() {
            Ok(output) if output.status.success() => return Ok(()),
            Ok(output) => {
                return Err(format!(
                    "{clang} failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => last = format!("{clang}: {e}"),
        }
    }
    Err(last)
}
