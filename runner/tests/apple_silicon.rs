//! `jauge size --engine llama.cpp --gpu <Apple Silicon Mac>`: the Metal buffers held to the
//! GPU's working-set limit, with where the limit comes from.

use std::process::{Command, Output};

use serde_json::Value;

fn jauge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jauge"))
        .args(args)
        .output()
        .unwrap()
}

/// `jauge size --engine llama.cpp` for a catalogue model in Q4_K_M on `device`, then `extra`.
fn size_on_mac(model: &str, device: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "size",
        "--engine",
        "llama.cpp",
        "--catalog-model",
        model,
        "--quant",
        "gguf-q4_k_m",
        "--gpu",
        device,
    ];
    args.extend_from_slice(extra);
    jauge(&args)
}

fn size_json(model: &str, device: &str) -> Value {
    let o = size_on_mac(model, device, &["--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_70b_fits_an_m2_max_96gb_under_its_logged_limit_and_not_an_m1_16gb() {
    let big = size_json("llama-3-70b", "m2-max-96gb");
    assert_eq!(big["engine"], "llama.cpp");
    assert_eq!(big["gpu"], "m2-max-96gb");
    assert_eq!(big["fits"], true);
    let metal = &big["metal"];
    // 73728 MiB, logged on an M2 Max with 96 GB.
    assert_eq!(metal["working_set_bytes"], 73728u64 << 20);
    assert_eq!(metal["working_set_source"]["kind"], "logged");
    assert_eq!(
        metal["working_set_source"]["url"],
        "https://github.com/ggml-org/llama.cpp/issues/3213"
    );
    assert!(metal["headroom_bytes"].as_i64().unwrap() > 0);
    let mtl0 = big["memory_gib_per_gpu"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device"] == "MTL0")
        .expect("an MTL0 device");
    let sum = ["model_bytes", "kv_bytes", "compute_bytes"]
        .iter()
        .map(|k| mtl0[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(metal["metal_bytes"].as_u64().unwrap(), sum);

    let small = size_json("llama-3-70b", "m1-16gb");
    assert_eq!(small["fits"], false);
    assert!(small["metal"]["headroom_bytes"].as_i64().unwrap() < 0);
    // 40 GiB of weights do not fit 16 GB of RAM: no sysctl.
    assert!(small["metal"]["sysctl_hint"].is_null());
}

#[test]
fn an_unlogged_mac_uses_the_default_rule_and_says_so() {
    let v = size_json("llama-3-8b", "m4-max-128gb");
    assert_eq!(v["metal"]["working_set_source"]["kind"], "rule");
    assert_eq!(v["metal"]["working_set_source"]["fraction"], "3/4");
    assert_eq!(v["metal"]["working_set_bytes"], 96u64 << 30);
    let o = size_on_mac("llama-3-8b", "m4-max-128gb", &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("computed from macOS's default rule") && text.contains("FITS"),
        "{text}"
    );
}

#[test]
fn total_memory_gib_replaces_the_limit_and_the_sysctl_hint_appears() {
    let o = size_on_mac(
        "llama-3-8b",
        "m1-16gb",
        &["--total-memory-gib", "2", "--json"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["fits"], false);
    assert_eq!(v["metal"]["working_set_source"]["kind"], "given");
    assert!(v["metal"]["sysctl_hint"]
        .as_str()
        .unwrap()
        .starts_with("sudo sysctl iogpu.wired_limit_mb="));
}

#[test]
fn an_unknown_mac_is_bad_input_listing_the_valid_sizes() {
    let o = size_on_mac("llama-3-8b", "m1-32gb", &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`m1-8gb`, `m1-16gb`") && err.contains("--list devices"),
        "{err}"
    );
    let o = jauge(&["size", "--catalog-model", "llama-3-8b", "--gpu", "m1-16gb"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--engine llama.cpp"));
}

#[test]
fn list_devices_prints_every_mac_with_its_limit_source() {
    let o = jauge(&["size", "--list", "devices"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("m2-max-96gb") && text.contains("logged") && text.contains("3/4"));
    let v: Value =
        serde_json::from_slice(&jauge(&["size", "--list", "devices", "--json"]).stdout).unwrap();
    let devices = v.as_array().unwrap();
    assert!(devices.iter().any(|d| d["id"] == "m3-ultra-512gb"));
    assert!(devices
        .iter()
        .all(|d| d["working_set"].as_u64().unwrap() < d["unified_memory"].as_u64().unwrap()));
}
