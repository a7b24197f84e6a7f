//! Every crate's files import one way (see the dependency paragraph of
//! docs/ARCHITECTURE.md): in no crate of the workspace do two non-test
//! files of `src/` name each other's items, directly or through a cycle.
//!
//! A file names another when one of its paths (in a `use` or inline)
//! starting with `crate::`, `super::`, `self::` or one of its child modules
//! leads into the other file's module. `mod x;` declarations do not count,
//! nor do comments, string literals, `#[cfg(test)]` modules and test files
//! (`*_tests.rs`, `tests.rs`, `tests/`, `test_util/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path from the crate root (`[]` is `lib.rs`).
type Module = Vec<String>;

fn is_test_file(relative: &str) -> bool {
    let parts: Vec<&str> = relative.split('/').collect();
    let (file, dirs) = parts.split_last().expect("a path has a file name");
    file.ends_with("_tests.rs")
        || *file == "tests.rs"
        || dirs
            .iter()
            .any(|d| *d == "tests" || *d == "test_util" || d.ends_with("_tests"))
}

fn module_of(relative: &str) -> Module {
    let mut parts: Module = relative
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    let root = parts.len() == 1 && parts[0] == "main";
    if root || matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `source` without comments, string and character literals, and
/// `#[cfg(test)]` modules with a body.
fn code_of(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let starts = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(k, c)| chars.get(i + k) == Some(&c))
    };
    while i < chars.len() {
        let c = chars[i];
        let after_ident = i > 0 && is_ident(chars[i - 1]);
        if starts(i, "//") {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if starts(i, "/*") {
            i += 2;
            while i < chars.len() && !starts(i, "*/") {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && !after_ident && (starts(i + 1, "\"") || starts(i + 1, "#")) {
            let mut hashes = 0;
            while chars.get(i + 1 + hashes) == Some(&'#') {
                hashes += 1;
            }
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let end: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            i += 2 + hashes;
            while i < chars.len() && !starts(i, &end) {
                i += 1;
            }
            i += end.chars().count();
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && chars.get(i + 1) == Some(&'\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    strip_test_modules(&out)
}

fn strip_test_modules(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    // `#[cfg(test)]` or `#[cfg(all(test, ...))]`.
    let next = |r: &str| {
        ["#[cfg(test)]", "#[cfg(all(test,"]
            .iter()
            .filter_map(|m| r.find(m))
            .min()
    };
    while let Some(at) = next(rest) {
        out.push_str(&rest[..at]);
        let attribute_end = rest[at..].find(")]").map_or(rest.len(), |e| at + e + 2);
        let after = &rest[attribute_end..];
        let item = after.trim_start();
        let item = item.strip_prefix("pub(crate)").unwrap_or(item).trim_start();
        let item = item.strip_prefix("pub(super)").unwrap_or(item).trim_start();
        let item = item.strip_prefix("pub").unwrap_or(item).trim_start();
        let body = item.strip_prefix("mod ").and_then(|m| {
            let name_end = m.find(|c: char| !is_ident(c) && c != ' ')?;
            m[name_end..].starts_with('{').then(|| &m[name_end..])
        });
        let Some(body) = body else {
            rest = after;
            continue;
        };
        let mut depth = 0;
        let mut end = body.len();
        for (k, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &body[end..];
    }
    out.push_str(rest);
    out
}

/// The paths of a use tree: `a::{b, c::{d, e}}` is `a::b`, `a::c::d`,
/// `a::c::e`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        // `a::b as c` names `a::b`.
        return vec![tree
            .split_whitespace()
            .take_while(|token| *token != "as")
            .collect()];
    };
    let prefix: String = tree[..open].split_whitespace().collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut current) = (0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand_use(p))
        .map(|p| match p.as_str() {
            "self" => prefix.trim_end_matches(':').to_owned(),
            _ => format!("{prefix}{p}"),
        })
        .collect()
}

/// The absolute module path (from the crate root) of a path used in
/// module `from`, if it starts at one of ours (`crate`, `super`, `self` or
/// a child module of `from`).
fn absolute(from: &Module, path: &str, files: &BTreeMap<Module, String>) -> Option<Module> {
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let (mut full, rest): (Module, &[&str]) = match segments.first()? {
        &"crate" => (Vec::new(), &segments[1..]),
        &"super" | &"self" => {
            let mut base = from.clone();
            let mut k = 0;
            while let Some(s @ (&"super" | &"self")) = segments.get(k) {
                if *s == "super" {
                    base.pop();
                }
                k += 1;
            }
            (base, &segments[k..])
        }
        first => {
            let mut child = from.clone();
            child.push((*first).to_owned());
            if !files.contains_key(&child) {
                return None;
            }
            (from.clone(), &segments[..])
        }
    };
    full.extend(rest.iter().map(|s| (*s).to_owned()));
    Some(full)
}

/// What each file re-exports (`pub use`, `pub(crate) use`, ...): file ->
/// name -> the absolute path it stands for (`*` -> the modules whose items
/// it re-exports all), and each file's code, to find what those define.
#[derive(Default)]
struct Reexports {
    names: BTreeMap<String, BTreeMap<String, Module>>,
    globs: BTreeMap<String, Vec<Module>>,
    codes: BTreeMap<String, String>,
}

/// Whether `code` defines an item called `name`.
fn defines(code: &str, name: &str) -> bool {
    [
        "struct", "enum", "fn", "type", "trait", "const", "static", "mod", "union",
    ]
    .iter()
    .any(|kind| {
        code.match_indices(&format!("{kind} {name}"))
            .any(|(at, m)| {
                let after = code[at + m.len()..].chars().next().unwrap_or(' ');
                let before = code[..at].chars().last().unwrap_or(' ');
                !is_ident(after) && !is_ident(before)
            })
    }) || code.contains(&format!("macro_rules! {name} "))
}

fn reexports(sources: &BTreeMap<String, String>, files: &BTreeMap<Module, String>) -> Reexports {
    let mut all = Reexports::default();
    for (file, source) in sources {
        let from = module_of(file);
        let code = code_of(source);
        let mut names = BTreeMap::new();
        let mut globs = Vec::new();
        let mut rest = code.as_str();
        while let Some(at) = rest.find("pub") {
            let tail = &rest[at..];
            let Some(use_at) = tail.find("use ") else {
                break;
            };
            let between = &tail[3..use_at];
            let visibility_only = between.trim().is_empty()
                || (between.trim().starts_with('(') && between.trim().ends_with(')'));
            let end = tail.find(';').unwrap_or(tail.len());
            if visibility_only && use_at < end {
                for path in expand_use(&tail[use_at + 4..end]) {
                    let name = path.rsplit("::").next().unwrap_or(&path).to_owned();
                    if let Some(mut target) = absolute(&from, &path, files) {
                        if name == "*" {
                            target.pop();
                            globs.push(target);
                        } else {
                            names.insert(name, target);
                        }
                    }
                }
            }
            rest = &rest[at + 3..];
        }
        all.names.insert(file.clone(), names);
        all.globs.insert(file.clone(), globs);
        all.codes.insert(file.clone(), code);
    }
    all
}

/// The file a path used in module `from` leads into, if it is one of ours:
/// the file of its longest module prefix, or, when the next name is one
/// that file re-exports, the file the re-export leads to (a re-export is an
/// alias, not a dependency on the module that re-exports).
fn resolve(
    from: &Module,
    path: &str,
    files: &BTreeMap<Module, String>,
    reexports: &Reexports,
) -> Option<String> {
    let mut full = absolute(from, path, files)?;
    for _ in 0..8 {
        let k = (0..=full.len())
            .rev()
            .find(|k| files.contains_key(&full[..*k]))?;
        let file = &files[&full[..k]];
        let name = full.get(k);
        let named = name.and_then(|n| reexports.names.get(file).and_then(|names| names.get(n)));
        // Through a glob re-export: the module whose file defines the name.
        let globbed = || {
            let name = name?;
            let glob = reexports.globs.get(file)?.iter().find(|g| {
                let defined_in = files.get(*g).and_then(|f| reexports.codes.get(f));
                defined_in.is_some_and(|code| defines(code, name))
            })?;
            let mut target = glob.clone();
            target.push(name.clone());
            Some(target)
        };
        let aliased = named.cloned().or_else(globbed);
        match aliased.as_ref() {
            Some(target) if target[..] != full[..=k] => {
                let mut next = target.clone();
                next.extend(full[k + 1..].iter().cloned());
                full = next;
            }
            _ => return Some(file.clone()),
        }
    }
    files.get(&full[..0]).cloned()
}

/// For each file, the files it names (see the module documentation).
fn imports(sources: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let files: BTreeMap<Module, String> =
        sources.keys().map(|f| (module_of(f), f.clone())).collect();
    let reexports = reexports(sources, &files);
    let mut edges = BTreeMap::new();
    for (file, source) in sources {
        let from = module_of(file);
        let code = code_of(source);
        let mut named = BTreeSet::new();
        let mut paths = Vec::new();
        let mut rest = code.as_str();
        let mut without_uses = String::new();
        while let Some(at) = rest.find("use ") {
            let standalone = at == 0 || !is_ident(rest[..at].chars().last().unwrap_or(' '));
            let end = rest[at..].find(';').map_or(rest.len(), |e| at + e + 1);
            if standalone {
                without_uses.push_str(&rest[..at]);
                paths.extend(expand_use(rest[at + 4..end].trim_end_matches(';')));
            } else {
                without_uses.push_str(&rest[..at + 4]);
                rest = &rest[at + 4..];
                continue;
            }
            rest = &rest[end..];
        }
        without_uses.push_str(rest);
        // Inline paths: every `a::b::c` run of identifiers.
        let chars: Vec<char> = without_uses.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if is_ident(chars[i]) && (i == 0 || (!is_ident(chars[i - 1]) && chars[i - 1] != ':')) {
                let start = i;
                while i < chars.len() && (is_ident(chars[i]) || chars[i] == ':') {
                    i += 1;
                }
                let path: String = chars[start..i].iter().collect();
                if path.contains("::") {
                    paths.push(path);
                }
            } else {
                i += 1;
            }
        }
        for path in paths {
            if let Some(target) = resolve(&from, &path, &files, &reexports) {
                if &target != file {
                    named.insert(target);
                }
            }
        }
        edges.insert(file.clone(), named);
    }
    edges
}

/// One import cycle, if there is any: the files in import order, the first
/// again at the end.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        file: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|f| f == file) {
            let mut cycle = path[at..].to_vec();
            cycle.push(file.to_owned());
            return Some(cycle);
        }
        if done.contains(file) {
            return None;
        }
        path.push(file.to_owned());
        for next in edges.get(file).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(file.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|file| visit(file, edges, &mut done, &mut Vec::new()))
}

fn read_sources(dir: &Path, root: &Path, sources: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            read_sources(&path, root, sources);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(root)
                .expect("under src/")
                .to_string_lossy()
                .replace('\\', "/");
            if !is_test_file(&relative) {
                let source = std::fs::read_to_string(&path).expect("a readable source file");
                sources.insert(relative, source);
            }
        }
    }
}

fn sources(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(f, s)| ((*f).to_owned(), (*s).to_owned()))
        .collect()
}

#[test]
fn no_two_files_of_any_crate_import_each_other_directly_or_through_a_cycle() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&crates).expect("crates/ is readable") {
        let root = entry.expect("a directory entry").path().join("src");
        if !root.is_dir() {
            continue;
        }
        let name = root
            .parent()
            .and_then(|c| c.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let name = name.expect("a crate folder name");
        let mut found = BTreeMap::new();
        read_sources(&root, &root, &mut found);
        let edges = imports(&found);
        if name == "aggregator" {
            // The reader finds imports at all: the router's, for one.
            assert!(found.len() > 40, "only {} files read", found.len());
            assert!(
                edges["http/router.rs"].contains("state.rs"),
                "the router's imports were not found: {:?}",
                edges["http/router.rs"]
            );
        }
        if let Some(cycle) = find_cycle(&edges) {
            panic!(
                "import cycle in crates/{name}/src: {} (give what both sides need a home \
                 below both)",
                cycle.join(" -> ")
            );
        }
        checked.push(name);
    }
    for expected in [
        "aggregator",
        "datastore",
        "protocol",
        "core",
        "client",
        "collector",
        "dyad",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "crates/{expected} was not read: {checked:?}"
        );
    }
}

#[test]
fn a_file_importing_its_own_parent_module_is_a_cycle() {
    let files = sources(&[
        ("lib.rs", "pub mod a;"),
        ("a/mod.rs", "mod b;\npub use b::Thing;\npub struct Shared;"),
        (
            "a/b.rs",
            "use super::{Shared, other::{X, Y}};\npub struct Thing;",
        ),
    ]);
    let cycle = find_cycle(&imports(&files)).expect("a cycle");
    assert!(cycle.contains(&"a/mod.rs".to_owned()) && cycle.contains(&"a/b.rs".to_owned()));
}

#[test]
fn a_root_reexport_leads_to_the_item_not_to_the_root() {
    let files = sources(&[
        (
            "lib.rs",
            "mod a;\nmod b;\npub use a::Thing;\npub use b::{Other, Third};",
        ),
        ("a.rs", "pub struct Thing;\nuse crate::Other;"),
        (
            "b.rs",
            "pub struct Other;\npub struct Third;\nfn f(_: crate::Thing) {}",
        ),
    ]);
    let edges = imports(&files);
    assert!(edges["a.rs"].contains("b.rs"), "{:?}", edges["a.rs"]);
    assert!(!edges["a.rs"].contains("lib.rs"), "{:?}", edges["a.rs"]);
    // a and b name each other's items through the root: a real cycle.
    assert!(find_cycle(&edges).is_some());
}

#[test]
fn a_glob_reexport_leads_to_the_module_defining_the_name() {
    let files = sources(&[
        ("lib.rs", "pub mod m;"),
        ("m/mod.rs", "mod a;\nmod b;\npub use a::*;\npub use b::*;"),
        ("m/a.rs", "pub struct A;"),
        ("m/b.rs", "use super::A;\npub struct B(A);"),
    ]);
    let edges = imports(&files);
    assert_eq!(edges["m/b.rs"], BTreeSet::from(["m/a.rs".to_owned()]));
    assert_eq!(find_cycle(&edges), None);
}

#[test]
fn an_inline_path_counts_as_an_import() {
    let files = sources(&[
        ("x.rs", "pub fn f() { crate::y::g() }"),
        ("y.rs", "pub fn g() { let _ = crate::x::f; }"),
    ]);
    assert!(find_cycle(&imports(&files)).is_some());
}

#[test]
fn comments_strings_and_test_modules_import_nothing() {
    let files = sources(&[
        (
            "x.rs",
            "// use crate::y::A;\n/* crate::y::B */\nconst S: &str = \"crate::y::C\";\n\
             const R: &str = r#\"crate::y::D\"#;\nconst Q: char = '\"';\n\
             #[cfg(test)]\nmod tests { use crate::y::E; }\npub struct X;",
        ),
        ("y.rs", "use crate::x::X;"),
    ]);
    let edges = imports(&files);
    assert!(edges["x.rs"].is_empty(), "{:?}", edges["x.rs"]);
    assert_eq!(find_cycle(&edges), None);
}
