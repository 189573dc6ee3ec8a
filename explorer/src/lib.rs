//! jauge explorer
