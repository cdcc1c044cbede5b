//! The stable replay of the fuzz corpus, shared by the crates that own a fuzz target (each
//! includes this file in its tests with `#[path]`): every file of `fuzz/corpus/<target>/`
//! runs through the target's body, so `cargo test` checks the corpus without nightly.

use std::path::Path;

/// Runs every file of `fuzz/corpus/<target>/` through `body`, in name order, and gives how
/// many there were. `manifest_dir` is the calling crate's `CARGO_MANIFEST_DIR` (a member of
/// the workspace, one level under its root).
///
/// # Panics
/// If the directory cannot be read or holds no file, and wherever `body` panics (the name of
/// the file that failed is printed first).
pub(crate) fn corpus(manifest_dir: &str, target: &str, body: fn(&[u8])) -> usize {
    let dir = Path::new(manifest_dir)
        .join("..")
        .join("fuzz")
        .join("corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the corpus {}: {e}", dir.display()));
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut count = 0;
    for path in paths.iter().filter(|p| p.is_file()) {
        let data =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| body(&data));
        assert!(outcome.is_ok(), "the corpus file {} fails", path.display());
        count += 1;
    }
    assert!(count > 0, "the corpus {} holds no file", dir.display());
    count
}
