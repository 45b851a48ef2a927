//! Replays every fuzz target's corpus (`fuzz/corpus/<target>/`, grown by `fuzz/run.sh` under
//! libFuzzer on nightly) through the same target bodies on stable: an input that once crashed a
//! parser stays a test.

use std::path::PathBuf;

#[test]
fn every_fuzz_corpus_replays_without_a_panic() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (target, body) in yibao_server::fuzz::TARGETS {
        let dir = root.join(target);
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{target}: an empty corpus");
        let mut accepted = 0;
        for input in &inputs {
            let data = std::fs::read(input).unwrap_or_else(|error| panic!("{}: {error}", input.display()));
            match std::panic::catch_unwind(|| body(&data)) {
                Ok(true) => accepted += 1,
                Ok(false) => {}
                Err(_) => panic!("{target}: {} panics", input.display()),
            }
        }
        // A target that accepts nothing checks nothing: each corpus keeps valid inputs too.
        assert!(accepted > 0, "{target}: none of {} inputs is accepted", inputs.len());
        eprintln!("{target}: {} inputs replayed, {accepted} accepted", inputs.len());
    }
}
