//! A small deterministic random number generator, so that runs and simulations repeat exactly
//! from a seed on every platform (wasm32 included) without a dependency.

/// SplitMix64 (Steele, Lea, Flood 2014): fast, statistically sound for workloads and
/// simulations, not for cryptography.
///
/// ```
/// use jauge::rng::SplitMix64;
/// let (mut a, mut b) = (SplitMix64::new(7), SplitMix64::new(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// let x = a.next_f64();
/// assert!((0.0..1.0).contains(&x));
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator from a seed.
    ///
    /// ```
    /// let _ = jauge::rng::SplitMix64::new(0);
    /// ```
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    ///
    /// ```
    /// let mut r = jauge::rng::SplitMix64::new(1);
    /// assert_ne!(r.next_u64(), r.next_u64());
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        finalise(self.state)
    }

    /// Uniform in [0, 1).
    ///
    /// ```
    /// let mut r = jauge::rng::SplitMix64::new(3);
    /// assert!((0..1000).all(|_| (0.0..1.0).contains(&r.next_f64())));
    /// ```
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n` ≥ 1).
    ///
    /// ```
    /// let mut r = jauge::rng::SplitMix64::new(3);
    /// assert!((0..1000).all(|_| r.below(10) < 10));
    /// ```
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// Exponentially distributed with mean `mean` (the gaps of a Poisson process).
    ///
    /// ```
    /// let mut r = jauge::rng::SplitMix64::new(5);
    /// let mean = (0..20_000).map(|_| r.exponential(2.0)).sum::<f64>() / 20_000.0;
    /// assert!((mean - 2.0).abs() < 0.1);
    /// ```
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.next_f64()).ln()
    }

    /// Standard normal (Box–Muller).
    ///
    /// ```
    /// let mut r = jauge::rng::SplitMix64::new(9);
    /// let mean = (0..20_000).map(|_| r.normal()).sum::<f64>() / 20_000.0;
    /// assert!(mean.abs() < 0.05);
    /// ```
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Gamma distributed with this shape and mean (Marsaglia and Tsang 2000); shape 1 is the
    /// exponential, smaller shapes are burstier, larger more regular.
    ///
    /// ```
    /// let mut r = jauge::rng::SplitMix64::new(11);
    /// let mean = (0..20_000).map(|_| r.gamma(0.5, 3.0)).sum::<f64>() / 20_000.0;
    /// assert!((mean - 3.0).abs() < 0.15);
    /// ```
    pub fn gamma(&mut self, shape: f64, mean: f64) -> f64 {
        let scale = mean / shape;
        if shape < 1.0 {
            // Boost: Gamma(k) = Gamma(k + 1) × U^(1/k).
            let u = 1.0 - self.next_f64();
            return self.gamma(shape + 1.0, (shape + 1.0) * scale) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = 1.0 - self.next_f64();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v * scale;
            }
        }
    }
}

/// SplitMix64's output function: a bijection on 64 bits in which every input bit moves about
/// half of the output bits (also what mixes the prefix cache's block hashes).
pub(crate) fn finalise(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
