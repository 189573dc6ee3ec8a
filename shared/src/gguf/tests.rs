use super::*;

fn header() -> Vec<u8> {
    example_header()
}

#[test]
fn every_prefix_of_a_valid_header_is_a_cut_error_never_a_panic() {
    let bytes = header();
    for n in 0..bytes.len() {
        match Gguf::parse(&bytes[..n]) {
            Err(GgufError::Truncated { offset, .. } | GgufError::CountTooLarge { offset, .. }) => {
                assert!(offset <= n as u64)
            }
            other => panic!("prefix of {n} bytes: {other:?}"),
        }
    }
    assert!(Gguf::parse(&bytes).is_ok());
}

#[test]
fn a_huge_count_is_refused_before_any_allocation() {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    let err = Gguf::parse(&bytes).unwrap_err();
    assert!(
        matches!(err, GgufError::CountTooLarge { offset: 8, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("tensor count at byte 8"), "{err}");
}

#[test]
fn a_huge_string_length_names_its_key_and_offset() {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.extend_from_slice(&(1u64 << 60).to_le_bytes());
    bytes.extend_from_slice(&[0; 16]);
    let err = Gguf::parse(&bytes).unwrap_err();
    assert!(err.to_string().contains("byte 24"), "{err}");
}

#[test]
fn version_1_and_bad_magic_are_refused() {
    let mut bytes = header();
    bytes[4] = 1;
    assert_eq!(
        Gguf::parse(&bytes).unwrap_err(),
        GgufError::UnsupportedVersion { version: 1 }
    );
    bytes[0] = b'X';
    assert!(matches!(
        Gguf::parse(&bytes).unwrap_err(),
        GgufError::BadMagic { .. }
    ));
}

#[test]
fn version_2_reads_like_version_3() {
    let mut bytes = header();
    bytes[4] = 2;
    assert_eq!(Gguf::parse(&bytes).unwrap().version, 2);
}

#[test]
fn a_removed_tensor_type_is_named() {
    let mut w = GgufWriter::new();
    w.tensor("blk.0.attn_q.weight", &[32, 2], GgmlType::Q4_0);
    let mut bytes = w.finish();
    // The type id sits 12 bytes before the end (u32 type, u64 offset).
    let at = bytes.len() - 12;
    bytes[at..at + 4].copy_from_slice(&4u32.to_le_bytes());
    let err = Gguf::parse(&bytes).unwrap_err();
    assert!(err.to_string().contains("blk.0.attn_q.weight"), "{err}");
    assert!(err.to_string().contains("type 4"), "{err}");
}

#[test]
fn a_row_that_splits_a_block_is_refused() {
    let mut w = GgufWriter::new();
    w.tensor("x", &[33, 2], GgmlType::Q8_0);
    let err = Gguf::parse(&w.finish()).unwrap_err();
    assert!(err.to_string().contains("33 elements"), "{err}");
}

#[test]
fn an_overflowing_shape_is_refused() {
    let mut w = GgufWriter::new();
    w.tensor("x", &[1 << 40, 1 << 40], GgmlType::F32);
    let err = Gguf::parse(&w.finish()).unwrap_err();
    assert!(err.to_string().contains("overflows"), "{err}");
}

#[test]
fn arrays_keep_numbers_and_only_the_length_of_strings() {
    let mut w = GgufWriter::new();
    w.string("general.architecture", "x");
    w.string_array("tokenizer.ggml.tokens", 5000);
    let gguf = Gguf::parse(&w.finish()).unwrap();
    assert_eq!(gguf.array_len("tokenizer.ggml.tokens"), Some(5000));
    match gguf.get("tokenizer.ggml.tokens").unwrap() {
        Value::Array { items, .. } => assert!(items.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn data_starts_at_the_next_alignment_boundary() {
    let gguf = Gguf::parse(&header()).unwrap();
    assert_eq!(gguf.alignment, 32);
    assert_eq!(gguf.data_offset % 32, 0);
    assert!(gguf.data_offset >= header().len() as u64);
}

#[test]
fn block_sizes_match_ggml_for_the_common_types() {
    // bits per weight as llama.cpp's quantize README states them.
    for (t, bpw) in [
        (GgmlType::Q4_0, 4.5),
        (GgmlType::Q8_0, 8.5),
        (GgmlType::Q4K, 4.5),
        (GgmlType::Q6K, 6.5625),
        (GgmlType::IQ4_XS, 4.25),
        (GgmlType::IQ2_XXS, 2.0625),
    ] {
        assert_eq!(t.bits_per_element(), bpw, "{t}");
    }
    for id in 0..64 {
        if let Some(t) = GgmlType::from_id(id) {
            assert_eq!(t as u32, id);
            assert_eq!(t.name().parse::<GgmlType>(), Ok(t));
        }
    }
}

proptest::proptest! {
    #[test]
    fn random_bytes_after_the_magic_never_panic(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let mut bytes = b"GGUF\x03\0\0\0".to_vec();
        bytes.extend_from_slice(&tail);
        let _ = Gguf::parse(&bytes);
    }

    #[test]
    fn flipping_a_byte_of_a_valid_header_never_panics(at in 0usize..200, value: u8) {
        let mut bytes = header();
        let at = at % bytes.len();
        bytes[at] = value;
        let _ = Gguf::parse(&bytes);
    }
}
