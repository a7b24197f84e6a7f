//! Rebuilds the crate when a migration is added or changed: the migrations
//! are embedded at compile time (`sqlx::migrate!`), and a new file in their
//! folders changes no Rust source.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
