//! The values that cross between Rust and SQL, the same for both backends: defined beside the
//! tables they fill, in the engine's [`yibao_engine::row`].

pub use yibao_engine::row::{Value, named};
