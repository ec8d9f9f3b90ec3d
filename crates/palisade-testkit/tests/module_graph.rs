//! The crate's modules form a hierarchy: following the paths one module's
//! code names in another (`use crate::…`, `crate::…::X`, `super::…`, a child
//! module by name) never leads back to where it started. The reader is this
//! crate's own `module_graph`.

use std::path::Path;

use palisade_testkit::module_graph::{find_cycle, graph, read_modules, show};

#[test]
fn the_crate_modules_form_a_hierarchy() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = read_modules(&src).expect("the crate's src/ is readable");
    assert!(
        modules.contains_key("bedrock::wire::request")
            && modules.contains_key("bedrock::wire::content"),
        "{:?}",
        modules.keys().collect::<Vec<_>>()
    );
    let edges = graph(&modules);
    // The reader sees the imports it must see: a Converse body's messages
    // are read block by block.
    assert!(
        edges["bedrock::wire::request"].contains("bedrock::wire::content"),
        "{edges:#?}"
    );
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import cycle: {}\n{edges:#?}", show(&cycle));
    }
}
