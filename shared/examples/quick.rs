use jauge::catalogue::Catalogue;
use jauge::sizing::{size, SizingRequest};
fn main() {
    let cat = Catalogue::builtin();
    for (m, g, n, q) in [("mistral-7b-v0.1", "a100-40gb", 1, None), ("mistral-7b-v0.3", "a100-40gb", 1, None), ("llama-3-70b", "a100-40gb", 2, Some("awq"))] {
        let mut r = SizingRequest::new(cat.model(m).unwrap(), cat.gpu(g).unwrap());
        r.gpu_count = n;
        r.quant = q.map(|q| cat.quant(q).unwrap());
        let s = size(&r).unwrap();
        println!("{}", serde_json::to_string_pretty(&s).unwrap());
    }
}
