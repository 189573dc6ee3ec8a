//! jauge's llama.cpp memory sizing (`jauge::sizing::llamacpp`) against llama-server's own
//! start-up log: tiny GGUF models of several shapes (written here, zero weights: only memory
//! is compared) are loaded with several settings, and each buffer llama.cpp logs must match
//! jauge's within 1 MiB.
//!
//! Needs the `llama-server` that `scripts/llama-server` builds (CPU only): set `LLAMA_SERVER`
//! from it and pass `--ignored`, one test thread:
//!
//! ```text
//! eval "$(scripts/llama-server | grep LLAMA_SERVER)"; export LLAMA_SERVER
//! cargo test -p jauge-runner --test llamacpp_memory -- --ignored --test-threads 1 --nocapture
//! ```
//!
//! Without `LLAMA_SERVER` the test is ignored, and run with `--ignored` it fails saying so.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jauge::gguf::GgmlType;
use jauge::sizing::llamacpp::{size_gguf, LlamaCppSettings};

mod common;
use common::dir;

const NEEDS: &str =
    "needs llama.cpp's llama-server: set LLAMA_SERVER from scripts/llama-server and pass --ignored";
const MIB: f64 = 1024.0 * 1024.0;

/// A GGUF file writer with tensor data (zeros), enough for llama.cpp to load a model.
#[derive(Default)]
struct Gguf {
    kv: Vec<u8>,
    n_kv: u64,
    infos: Vec<u8>,
    tensors: Vec<(u64, u64)>, // (offset, bytes)
    next: u64,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Gguf {
    fn key(&mut self, k: &str, ty: u32) {
        put_str(&mut self.kv, k);
        self.kv.extend_from_slice(&ty.to_le_bytes());
        self.n_kv += 1;
    }
    fn u32(&mut self, k: &str, v: u32) {
        self.key(k, 4);
        self.kv.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, k: &str, v: f32) {
        self.key(k, 6);
        self.kv.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, k: &str, v: &str) {
        self.key(k, 8);
        put_str(&mut self.kv, v);
    }
    /// A SentencePiece-style vocabulary: unk, bos, eos, the 256 byte tokens, then fillers.
    fn vocab(&mut self, n: u32) {
        let tokens: Vec<String> = (0..n)
            .map(|i| match i {
                0 => "<unk>".into(),
                1 => "<s>".into(),
                2 => "</s>".into(),
                3..=258 => format!("<0x{:02X}>", i - 3),
                _ => format!("\u{2581}t{i}"),
            })
            .collect();
        self.str("tokenizer.ggml.model", "llama");
        self.key("tokenizer.ggml.tokens", 9);
        self.kv.extend_from_slice(&8u32.to_le_bytes());
        self.kv.extend_from_slice(&u64::from(n).to_le_bytes());
        for t in &tokens {
            put_str(&mut self.kv, t);
        }
        self.key("tokenizer.ggml.scores", 9);
        self.kv.extend_from_slice(&6u32.to_le_bytes());
        self.kv.extend_from_slice(&u64::from(n).to_le_bytes());
        for i in 0..n {
            self.kv.extend_from_slice(&(-(i as f32)).to_le_bytes());
        }
        self.key("tokenizer.ggml.token_type", 9);
        self.kv.extend_from_slice(&5u32.to_le_bytes());
        self.kv.extend_from_slice(&u64::from(n).to_le_bytes());
        for i in 0..n {
            let ty: i32 = match i {
                0 => 2,
                1 | 2 => 3,
                3..=258 => 6,
                _ => 1,
            };
            self.kv.extend_from_slice(&ty.to_le_bytes());
        }
        self.u32("tokenizer.ggml.bos_token_id", 1);
        self.u32("tokenizer.ggml.eos_token_id", 2);
        self.u32("tokenizer.ggml.unknown_token_id", 0);
    }
    fn tensor(&mut self, name: &str, shape: &[u64], ty: GgmlType) {
        put_str(&mut self.infos, name);
        self.infos
            .extend_from_slice(&(shape.len() as u32).to_le_bytes());
        for d in shape {
            self.infos.extend_from_slice(&d.to_le_bytes());
        }
        self.infos.extend_from_slice(&(ty as u32).to_le_bytes());
        self.infos.extend_from_slice(&self.next.to_le_bytes());
        let bytes = ty.row_bytes(shape[0]) * shape[1..].iter().product::<u64>();
        self.tensors.push((self.next, bytes));
        self.next += bytes.div_ceil(32) * 32;
    }
    fn write(self, path: &Path) {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.n_kv.to_le_bytes());
        out.extend_from_slice(&self.kv);
        out.extend_from_slice(&self.infos);
        out.resize(out.len().div_ceil(32) * 32, 0);
        out.resize(out.len() + self.next as usize, 0);
        std::fs::write(path, out).unwrap();
    }
}

/// A model shape.
struct Shape {
    name: &'static str,
    n_embd: u64,
    n_head: u64,
    n_head_kv: u64,
    head_dim: u64,
    n_ff: u64,
    n_layer: u64,
    n_vocab: u32,
    experts: Option<(u64, u64)>,
    weights: GgmlType,
}

fn write_model(s: &Shape, path: &Path) {
    let mut g = Gguf::default();
    g.str("general.architecture", "llama");
    g.u32("llama.block_count", s.n_layer as u32);
    g.u32("llama.context_length", 8192);
    g.u32("llama.embedding_length", s.n_embd as u32);
    g.u32("llama.feed_forward_length", s.n_ff as u32);
    g.u32("llama.attention.head_count", s.n_head as u32);
    g.u32("llama.attention.head_count_kv", s.n_head_kv as u32);
    g.u32("llama.attention.key_length", s.head_dim as u32);
    g.u32("llama.attention.value_length", s.head_dim as u32);
    g.u32("llama.rope.dimension_count", s.head_dim as u32);
    g.f32("llama.attention.layer_norm_rms_epsilon", 1e-5);
    if let Some((n, used)) = s.experts {
        g.u32("llama.expert_count", n as u32);
        g.u32("llama.expert_used_count", used as u32);
    }
    g.vocab(s.n_vocab);
    let (e, v, w) = (s.n_embd, u64::from(s.n_vocab), s.weights);
    let (q, kv) = (s.n_head * s.head_dim, s.n_head_kv * s.head_dim);
    g.tensor("token_embd.weight", &[e, v], w);
    for il in 0..s.n_layer {
        let b = |n: &str| format!("blk.{il}.{n}.weight");
        g.tensor(&b("attn_norm"), &[e], GgmlType::F32);
        g.tensor(&b("attn_q"), &[e, q], w);
        g.tensor(&b("attn_k"), &[e, kv], w);
        g.tensor(&b("attn_v"), &[e, kv], w);
        g.tensor(&b("attn_output"), &[q, e], w);
        g.tensor(&b("ffn_norm"), &[e], GgmlType::F32);
        match s.experts {
            None => {
                g.tensor(&b("ffn_gate"), &[e, s.n_ff], w);
                g.tensor(&b("ffn_up"), &[e, s.n_ff], w);
                g.tensor(&b("ffn_down"), &[s.n_ff, e], w);
            }
            Some((n, _)) => {
                g.tensor(&b("ffn_gate_inp"), &[e, n], GgmlType::F32);
                g.tensor(&b("ffn_gate_exps"), &[e, s.n_ff, n], w);
                g.tensor(&b("ffn_up_exps"), &[e, s.n_ff, n], w);
                g.tensor(&b("ffn_down_exps"), &[s.n_ff, e, n], w);
            }
        }
    }
    g.tensor("output_norm.weight", &[e], GgmlType::F32);
    g.tensor("output.weight", &[e, v], w);
    g.write(path);
}

/// The MiB figure of the first log line containing `needle`, after `needle`'s `=`.
fn logged_mib(log: &str, needle: &str) -> Option<f64> {
    let line = log.lines().find(|l| l.contains(needle))?;
    let rest = &line[line.find(needle)? + needle.len()..];
    let rest = rest.trim_start().trim_start_matches('=').trim_start();
    rest.split_whitespace().next()?.parse().ok()
}

/// Starts llama-server on `model` with `args`, waits until it listens, returns its log.
fn server_log(server: &str, model: &Path, args: &[String], log_path: &Path) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(log_path).unwrap();
    let mut child = Command::new(server)
        .arg("-m")
        .arg(model)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["-t", "2", "-lv", "4", "--no-warmup", "-fit", "off"])
        .args(args)
        .stdout(log.try_clone().unwrap())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let started = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(log_path).unwrap_or_default();
        if text.contains("listening on") || text.contains("exiting due to") {
            break text;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("llama-server exited ({status}):\n{text}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "llama-server did not start in 30 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    text
}

#[test]
#[ignore = "needs llama.cpp's llama-server: set LLAMA_SERVER from scripts/llama-server"]
fn jauge_sizes_llama_server_buffers_within_one_mib() {
    let server = std::env::var("LLAMA_SERVER").expect(NEEDS);
    let work = dir("llamacpp-memory");
    let shapes = [
        Shape {
            name: "gqa-f16",
            n_embd: 64,
            n_head: 4,
            n_head_kv: 2,
            head_dim: 16,
            n_ff: 128,
            n_layer: 2,
            n_vocab: 2000,
            experts: None,
            weights: GgmlType::F16,
        },
        Shape {
            name: "mqa-hd64-q8_0",
            n_embd: 128,
            n_head: 4,
            n_head_kv: 1,
            head_dim: 64,
            n_ff: 256,
            n_layer: 3,
            n_vocab: 1024,
            experts: None,
            weights: GgmlType::Q8_0,
        },
        Shape {
            name: "moe-4x2-f16",
            n_embd: 64,
            n_head: 2,
            n_head_kv: 1,
            head_dim: 32,
            n_ff: 96,
            n_layer: 2,
            n_vocab: 1000,
            experts: Some((4, 2)),
            weights: GgmlType::F16,
        },
    ];
    // (shape index, -c, -np, unified, cache type K and V, -ub)
    let cases: &[(usize, u32, u32, bool, GgmlType, u32)] = &[
        (0, 1000, 1, false, GgmlType::F16, 512),
        (0, 4096, 4, false, GgmlType::F16, 512),
        (0, 4096, 4, true, GgmlType::F16, 256),
        (1, 2048, 1, false, GgmlType::Q8_0, 512),
        (1, 1000, 4, false, GgmlType::F16, 512),
        (2, 4096, 1, false, GgmlType::F16, 512),
        (2, 2048, 4, false, GgmlType::Q8_0, 512),
    ];
    let mut table = vec![format!(
        "| model | settings | buffer | jauge MiB | llama-server MiB |\n|---|---|---|---|---|"
    )];
    let mut failures = Vec::new();
    for (i, &(shape, ctx, np, unified, cache, ub)) in cases.iter().enumerate() {
        let s = &shapes[shape];
        let model = work.join(format!("{}.gguf", s.name));
        if !model.exists() {
            write_model(s, &model);
        }
        let bytes = std::fs::read(&model).unwrap();
        let mut settings = LlamaCppSettings::new(ctx);
        settings.parallel = np;
        settings.kv_unified = unified;
        settings.cache_type_k = cache;
        settings.cache_type_v = cache;
        settings.ubatch_size = ub;
        let sizing = size_gguf(&bytes, &settings).unwrap();
        let cpu = sizing.device("CPU").unwrap();
        let mut args: Vec<String> = [
            "-c",
            &ctx.to_string(),
            "-np",
            &np.to_string(),
            "-ub",
            &ub.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(["-ctk", cache.name(), "-ctv", cache.name(), "-fa", "on"].map(String::from));
        args.push(if unified { "-kvu" } else { "-no-kvu" }.into());
        let log = server_log(&server, &model, &args, &work.join(format!("case-{i}.log")));
        let label = format!(
            "-c {ctx} -np {np}{} -ctk/-ctv {cache} -ub {ub}",
            if unified { " -kvu" } else { "" }
        );
        for (buffer, needle, ours) in [
            (
                "model (CPU_Mapped)",
                "CPU_Mapped model buffer size",
                cpu.model_bytes,
            ),
            ("KV (CPU)", "CPU KV buffer size", cpu.kv_bytes),
            ("KV (size line)", "llama_kv_cache: size", cpu.kv_bytes),
            (
                "compute (CPU)",
                "CPU compute buffer size",
                cpu.compute_bytes,
            ),
            ("output (CPU)", "CPU  output buffer size", cpu.output_bytes),
        ] {
            let theirs = logged_mib(&log, needle)
                .unwrap_or_else(|| panic!("no `{needle}` line in case {i}'s log:\n{log}"));
            let ours_mib = ours as f64 / MIB;
            table.push(format!(
                "| {} | {label} | {buffer} | {ours_mib:.2} | {theirs:.2} |",
                s.name
            ));
            if (ours_mib - theirs).abs() > 1.0 {
                failures.push(format!(
                    "{} {label} {buffer}: jauge {ours_mib:.2} MiB, llama-server {theirs:.2} MiB",
                    s.name
                ));
            }
        }
        // Cells per stream and streams, from `llama_kv_cache: size = … (N cells, L layers, a/b seqs)`.
        let cells = format!("{:>6} cells", sizing.kv_cells_per_stream);
        assert!(
            log.contains(&cells),
            "case {i}: expected `{cells}` in:\n{log}"
        );
    }
    println!("{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        table.join("\n")
    );
}
