//! Property tests over arbitrary bytes: whatever a server or a file holds, the parsers never
//! panic, the SSE parser gives the same events however the bytes are cut and never holds an
//! event past its limit, and a damaged dataset or config is refused, never half-read.
//!
//! CI runs a few thousand cases of each in seconds; `scripts/fuzz` runs many more
//! (`JAUGE_FUZZ_CASES`).

use jauge::catalogue::{Catalogue, ModelSpec};
use jauge::dataset::{example_json, Dataset};
use jauge::sizing::{size, SizingRequest};
use jauge_runner::metrics;
use jauge_runner::openai::{classify_http_error, parse_chunk};
use jauge_runner::sse::{Event, Parser};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("JAUGE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

/// Bytes that look like a stream: SSE field names, separators and JSON pieces, mixed with
/// anything.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"event: error".to_vec()),
        Just(b": keep-alive".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"[DONE]".to_vec()),
        Just(br#"{"choices":[{"text":"x"}]}"#.to_vec()),
        Just("é中".as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec(pieces, 0..60).prop_map(|p| p.concat())
}

/// Feeds `bytes` cut at `cuts`; the events until the first refusal, and whether there was one.
fn feed_cut(bytes: &[u8], cuts: &[usize], limit: u64) -> (Vec<Event>, bool) {
    let mut parser = Parser::with_limit(limit);
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut events = Vec::new();
    let mut from = 0;
    for to in points.into_iter().chain([bytes.len()]) {
        match parser.feed(&bytes[from..to]) {
            Ok(e) => events.extend(e),
            Err(_) => return (events, true),
        }
        from = to;
    }
    (events, false)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn fuzz_sse_events_do_not_depend_on_where_the_bytes_are_cut(
        bytes in stream_bytes(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let (whole, refused) = feed_cut(&bytes, &[], 1 << 20);
        prop_assert!(!refused);
        let (split, refused) = feed_cut(&bytes, &cuts, 1 << 20);
        prop_assert!(!refused);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn fuzz_sse_refusal_does_not_depend_on_where_the_bytes_are_cut(
        bytes in stream_bytes(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        limit in 1u64..200,
    ) {
        let (whole, whole_refused) = feed_cut(&bytes, &[], limit);
        let (split, split_refused) = feed_cut(&bytes, &cuts, limit);
        prop_assert_eq!(whole_refused, split_refused);
        // What got out before a refusal is the same stream, only delivered in other batches.
        let (shorter, longer) = if whole.len() <= split.len() { (&whole, &split) } else { (&split, &whole) };
        prop_assert_eq!(&longer[..shorter.len()], &shorter[..]);
        for e in whole.iter().chain(&split) {
            prop_assert!(e.data.len() as u64 <= limit + 1);
        }
    }

    #[test]
    fn fuzz_stream_chunks_and_error_bodies_never_panic(bytes in stream_bytes(), status in 100u16..600) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_chunk(&text);
        let (_, message) = classify_http_error(status, &text, false);
        prop_assert!(message.chars().count() < 300);
        let _ = metrics::Snapshot::from_samples(&metrics::parse(&text));
    }

    #[test]
    fn fuzz_datasets_from_any_bytes_are_refused_or_valid(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(d) = Dataset::from_json(&text) {
            prop_assert!(d.violations().is_empty());
        }
    }

    #[test]
    fn fuzz_damaged_datasets_are_refused_or_round_trip(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut bytes = example_json().into_bytes();
        for (at, byte, how) in edits {
            let at = at % (bytes.len() + 1);
            match how {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => { bytes.remove(at); }
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(d) = Dataset::from_json(&text) {
            let again = Dataset::from_json(&d.to_json());
            prop_assert_eq!(again.ok(), Some(d));
        }
    }

    #[test]
    fn fuzz_any_config_numbers_are_refused_or_sized_without_wrapping(
        numbers in proptest::collection::vec(prop_oneof![0u64..4, 1u64..100_000, any::<u64>()], 8),
        experts in proptest::option::of((any::<u64>(), any::<u64>())),
    ) {
        let mut config = serde_json::json!({
            "architectures": ["MixtralForCausalLM"],
            "hidden_size": numbers[0], "num_hidden_layers": numbers[1],
            "num_attention_heads": numbers[2], "num_key_value_heads": numbers[3],
            "head_dim": numbers[4], "intermediate_size": numbers[5], "vocab_size": numbers[6],
            "max_position_embeddings": numbers[7],
        });
        if let Some((n, k)) = experts {
            config["num_local_experts"] = n.into();
            config["num_experts_per_tok"] = k.into();
        }
        let Ok(model) = ModelSpec::from_hf_config(&config.to_string(), "fuzz") else {
            return Ok(());
        };
        let p = model.param_counts();
        prop_assert!(p.total >= p.linear && p.total >= p.active);
        let cat = Catalogue::builtin();
        for gpus in [1, 2, 8] {
            let mut r = SizingRequest::new(&model, cat.gpu("h100-80gb").unwrap());
            r.gpu_count = gpus;
            if let Ok(s) = size(&r) {
                prop_assert!(s.weights_gib_per_gpu > 0.0);
                prop_assert!(s.max_concurrency >= 0.0);
            }
        }
    }
}
