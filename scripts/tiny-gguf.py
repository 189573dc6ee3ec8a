"""Writes a tiny Llama-architecture GGUF with random weights and a real vocabulary.

The vocabulary (tokens, scores, types, special ids) is copied from a vocab-only GGUF that
llama.cpp ships in its `models/` folder, so prompts tokenize exactly as they would for a
Llama-2-style model; the weights are random, so the text it generates is random too. That is
all a load test needs: token counts, streaming, batching, context limits and timing are real.

    python tiny-gguf.py --vocab ggml-vocab-llama-spm.gguf --out tiny-llama.gguf
"""

import argparse

import gguf
import numpy as np

N_EMBD = 64
N_LAYERS = 2
N_HEADS = 4
N_KV_HEADS = 2
N_FF = 128
CONTEXT = 4096
SEED = 20261125


def copy_vocabulary(reader: gguf.GGUFReader, writer: gguf.GGUFWriter) -> int:
    """Copies every `tokenizer.*` key; returns the vocabulary size."""
    n_vocab = 0
    for name, field in reader.fields.items():
        if not name.startswith("tokenizer."):
            continue
        value = field.contents()
        kind = field.types[0]
        if kind == gguf.GGUFValueType.ARRAY:
            writer.add_array(name, value)
            if name == "tokenizer.ggml.tokens":
                n_vocab = len(value)
        else:
            writer.add_key_value(name, value, kind)
    if n_vocab == 0:
        raise SystemExit("the vocabulary file has no tokenizer.ggml.tokens")
    return n_vocab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", required=True, help="a vocab-only GGUF from llama.cpp's models/")
    parser.add_argument("--out", required=True, help="the GGUF file to write")
    args = parser.parse_args()

    reader = gguf.GGUFReader(args.vocab)
    writer = gguf.GGUFWriter(args.out, "llama")
    writer.add_name("jauge tiny llama (random weights)")
    writer.add_description(
        "Llama architecture, 2 layers, hidden size 64, random weights, llama-spm vocabulary: "
        "for load tests only, its text is meaningless."
    )
    n_vocab = copy_vocabulary(reader, writer)
    head_dim = N_EMBD // N_HEADS
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYERS)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEADS)
    writer.add_head_count_kv(N_KV_HEADS)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    rng = np.random.default_rng(SEED)

    def weight(*shape: int) -> np.ndarray:
        # numpy shape is (rows = outputs, columns = inputs); GGUF stores the reverse.
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    writer.add_tensor("token_embd.weight", weight(n_vocab, N_EMBD))
    writer.add_tensor("output_norm.weight", ones(N_EMBD))
    writer.add_tensor("output.weight", weight(n_vocab, N_EMBD))
    for i in range(N_LAYERS):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", ones(N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weight(N_HEADS * head_dim, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weight(N_KV_HEADS * head_dim, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weight(N_KV_HEADS * head_dim, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weight(N_EMBD, N_HEADS * head_dim))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", ones(N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(N_EMBD, N_FF))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
