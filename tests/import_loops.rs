//! The crate's imports run one way: no two files, and no two top-level
//! modules, import each other, directly or round a loop. Read from the
//! `crate::`, `super::`, `self::` and relative paths of `src/` (use lines,
//! paths in code and in attributes). Two kinds of arrow are left out: those
//! of test modules, which look back at what they test, and those from a file
//! to a module it belongs to (a folder's `mod.rs` is the home of the types its
//! files share, as it is where they are declared).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A file of the crate and the module path that names it (`["feed", "tick"]`).
struct SourceFile {
    path: PathBuf,
    module: Vec<String>,
    text: String,
}

/// Every non-test module file under `src/` (the binary's `main.rs` aside).
fn source_files(root: &Path) -> Vec<SourceFile> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).expect("src/ is readable");
        for entry in entries {
            let path = entry.expect("src/ is readable").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.ends_with(".rs") || name == "tests.rs" || path == root.join("main.rs") {
                continue;
            }
            let relative = path.strip_prefix(root).expect("under src/");
            let mut module: Vec<String> = relative
                .iter()
                .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).expect("a source file is readable");
            files.push(SourceFile {
                path: relative.to_path_buf(),
                module,
                text: without_tests_and_comments(&text),
            });
        }
    }
    files
}

/// The code a file's own items see: comments and the trailing
/// `#[cfg(test)] mod ...` left out.
fn without_tests_and_comments(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let line = line.find(" // ").map_or(line, |at| &line[..at]);
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// Every path that starts at `crate`, `super` or `self`, or at one of the
/// module's `children` (a relative path, read as `self::`), with `use` trees
/// expanded (`use crate::a::{b, c::d}` gives `crate::a::b` and `crate::a::c::d`).
fn paths(code: &str, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &code[at..];
        let starts_word = at == 0 || !(is_ident(bytes[at - 1]) || bytes[at - 1] == b':');
        let word_end = rest
            .bytes()
            .position(|b| !is_ident(b))
            .unwrap_or(rest.len());
        let word = &rest[..word_end];
        let rooted = matches!(word, "crate" | "super" | "self") || children.contains(word);
        if starts_word && word_end > 0 && rooted && rest[word_end..].starts_with("::") {
            let (tree, used) = use_tree(rest);
            for mut path in tree {
                if children.contains(word) {
                    path.insert(0, "self".to_owned());
                }
                found.push(path);
            }
            at += used.max(1);
        } else {
            at += word_end.max(rest.chars().next().map_or(1, char::len_utf8));
        }
    }
    found
}

fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Parses one path or `use` tree at the start of `text`; returns its
/// expanded paths and how many bytes it took.
fn use_tree(text: &str) -> (Vec<Vec<String>>, usize) {
    let bytes = text.as_bytes();
    let mut prefix = Vec::new();
    let mut at = 0;
    loop {
        let start = at;
        while at < bytes.len() && is_ident(bytes[at]) {
            at += 1;
        }
        if at > start {
            prefix.push(text[start..at].to_owned());
        }
        if text[at..].starts_with("::") {
            at += 2;
            if text[at..].starts_with('{') {
                at += 1;
                let mut expanded = Vec::new();
                loop {
                    while at < bytes.len() && (bytes[at] == b',' || bytes[at].is_ascii_whitespace())
                    {
                        at += 1;
                    }
                    if at >= bytes.len() || bytes[at] == b'}' {
                        at += 1;
                        break;
                    }
                    let (inner, used) = use_tree(&text[at..]);
                    at += used.max(1);
                    for path in inner {
                        let mut whole = prefix.clone();
                        whole.extend(path);
                        expanded.push(whole);
                    }
                }
                return (expanded, at);
            }
            continue;
        }
        return (vec![prefix], at);
    }
}

/// The file a path from `from` (a module path) lands in: the deepest module
/// file it names.
fn resolve(
    from: &[String],
    path: &[String],
    modules: &BTreeMap<Vec<String>, PathBuf>,
) -> Option<PathBuf> {
    let mut module: Vec<String> = Vec::new();
    let mut segments = path.iter().peekable();
    match segments.next().map(String::as_str) {
        Some("crate") => {}
        Some("self") => module = from.to_vec(),
        Some("super") => {
            module = from.to_vec();
            module.pop();
            while segments.peek().map(|s| s.as_str()) == Some("super") {
                segments.next();
                module.pop();
            }
        }
        _ => return None,
    }
    for segment in segments {
        let mut deeper = module.clone();
        deeper.push(segment.clone());
        if !modules.contains_key(&deeper) {
            break;
        }
        module = deeper;
    }
    modules.get(&module).cloned()
}

/// The graph's loops, each as the files round it, found by depth-first search.
fn loops<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<N: Ord + Clone>(
        node: &N,
        edges: &BTreeMap<N, BTreeSet<N>>,
        marks: &mut BTreeMap<N, Mark>,
        stack: &mut Vec<N>,
        found: &mut Vec<Vec<N>>,
    ) {
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            match marks.get(next) {
                Some(Mark::Open) => {
                    let start = stack.iter().position(|n| n == next).unwrap_or(0);
                    found.push(stack[start..].to_vec());
                }
                Some(Mark::Done) => {}
                None => visit(next, edges, marks, stack, found),
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut found = Vec::new();
    for node in edges.keys() {
        if !marks.contains_key(node) {
            visit(node, edges, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}

struct Graph {
    files: BTreeMap<PathBuf, BTreeSet<PathBuf>>,
    modules: BTreeMap<String, BTreeSet<String>>,
    /// What each file-to-file arrow is made of, for the failure message.
    names: BTreeMap<(PathBuf, PathBuf), BTreeSet<String>>,
}

fn graph(root: &Path) -> Graph {
    let files = source_files(root);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|file| (file.module.clone(), file.path.clone()))
        .collect();
    let module_of: BTreeMap<PathBuf, Vec<String>> = files
        .iter()
        .map(|file| (file.path.clone(), file.module.clone()))
        .collect();
    let mut graph = Graph {
        files: BTreeMap::new(),
        modules: BTreeMap::new(),
        names: BTreeMap::new(),
    };
    for file in &files {
        graph.files.entry(file.path.clone()).or_default();
        let children: BTreeSet<String> = modules
            .keys()
            .filter(|module| {
                module.len() == file.module.len() + 1 && module.starts_with(&file.module)
            })
            .filter_map(|module| module.last().cloned())
            .collect();
        for path in paths(&file.text, &children) {
            let Some(target) = resolve(&file.module, &path, &modules) else {
                continue;
            };
            let target_module = &module_of[&target];
            if target == file.path || file.module.starts_with(target_module) {
                continue;
            }
            graph
                .files
                .entry(file.path.clone())
                .or_default()
                .insert(target.clone());
            graph
                .names
                .entry((file.path.clone(), target.clone()))
                .or_default()
                .insert(path.join("::"));
            let top = |p: &Path| {
                p.iter()
                    .next()
                    .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_owned())
            };
            if let (Some(from), Some(to)) = (top(&file.path), top(&target))
                && from != to
                && from != "lib"
            {
                graph.modules.entry(from).or_default().insert(to);
            }
        }
    }
    graph
}

fn describe(graph: &Graph, round: &[PathBuf]) -> String {
    let mut text = String::new();
    for (i, from) in round.iter().enumerate() {
        let to = &round[(i + 1) % round.len()];
        let names = graph
            .names
            .get(&(from.clone(), to.clone()))
            .map(|n| n.iter().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        text.push_str(&format!(
            "  src/{} -> src/{}: {names}\n",
            from.display(),
            to.display()
        ));
    }
    text
}

#[test]
fn no_file_imports_round_a_loop() {
    let graph = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.files.len() > 50, "the crate's files were found");
    let found = loops(&graph.files);
    let report: Vec<String> = found.iter().map(|round| describe(&graph, round)).collect();
    assert!(
        found.is_empty(),
        "files that import each other round a loop:\n{}",
        report.join("\n")
    );
}

#[test]
fn no_top_level_module_imports_round_a_loop() {
    let graph = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.modules.len() > 10, "the crate's modules were found");
    let found = loops(&graph.modules);
    assert!(
        found.is_empty(),
        "modules that import each other round a loop: {found:?}"
    );
}

/// The checker itself: it sees `use` trees, paths in code and in attributes,
/// `super` and `self`, and it finds a loop of three.
#[test]
fn the_check_finds_what_it_must() {
    let code = without_tests_and_comments(
        "use crate::a::{b::{C, D}, e};\n// use crate::hidden::X;\n#[serde(with = \"crate::f::g\")]\nfn x() { super::h::i(); self::j::K; k::L }\n#[cfg(test)]\nmod tests {\n    use crate::after::Y;\n}\n",
    );
    let children = BTreeSet::from(["j".to_owned(), "k".to_owned()]);
    let found: Vec<String> = paths(&code, &children)
        .iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(
        found,
        [
            "crate::a::b::C",
            "crate::a::b::D",
            "crate::a::e",
            "crate::f::g",
            "super::h::i",
            "self::j::K",
            "self::k::L",
        ]
    );
    assert!(
        paths("use ::k::X; other::k::Y; std::k::Z;", &children).is_empty(),
        "k:: of another path"
    );
    let edges: BTreeMap<u8, BTreeSet<u8>> = [
        (1, [2].into()),
        (2, [3].into()),
        (3, [1].into()),
        (4, [1].into()),
    ]
    .into();
    assert_eq!(loops(&edges), vec![vec![1, 2, 3]]);
    let acyclic: BTreeMap<u8, BTreeSet<u8>> = [(1, [2, 3].into()), (2, [3].into())].into();
    assert!(loops(&acyclic).is_empty());
}
