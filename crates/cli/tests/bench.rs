//! The benchmark commands keep working (their numbers are printed, never asserted here).

use std::process::Command;

fn yibao(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_yibao")).args(args).env("YIBAO_LOG", "warn").output().expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "yibao {args:?}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[test]
fn the_benchmarks_run_briefly_without_errors() {
    let dir = std::env::temp_dir().join(format!("yibao-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let pricing = yibao(&["bench", "pricing", "--lines", "5", "--seconds", "1"]);
    assert!(pricing.contains("lines/s"), "{pricing}");
    let allocation = yibao(&["bench", "allocation", "--persons", "300", "--db", &db("allocation.db")]);
    assert!(allocation.contains("(second run)") && allocation.contains("0 credited"), "{allocation}");
    let inprocess = yibao(&[
        "bench",
        "inprocess",
        "--persons",
        "300",
        "--seconds",
        "1",
        "--concurrency",
        "4",
        "--db",
        &db("inprocess.db"),
    ]);
    assert!(inprocess.contains("0 refused"), "{inprocess}");
    let load =
        yibao(&["bench", "load", "--persons", "300", "--seconds", "1", "--concurrency", "4", "--db", &db("load.db")]);
    assert!(load.contains(", 0 refused"), "{load}");
    // Two kill -9 cycles of the crash harness (CI runs twenty: bench/crash.sh).
    let crash = yibao(&[
        "bench",
        "crash",
        "--cycles",
        "2",
        "--persons",
        "300",
        "--clients",
        "4",
        "--max-uptime-ms",
        "300",
        "--seed",
        "7",
        "--db",
        &db("crash.db"),
    ]);
    assert!(crash.contains("crash harness passed") && crash.contains("replays exactly"), "{crash}");
    // A file that is not a benchmark database is never replaced.
    std::fs::write(dir.join("precious.db"), b"not a database of ours").unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_yibao"))
        .args(["bench", "allocation", "--persons", "10", "--db", &db("precious.db")])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert_eq!(std::fs::read(dir.join("precious.db")).unwrap(), b"not a database of ours");
    let _ = std::fs::remove_dir_all(&dir);
}
