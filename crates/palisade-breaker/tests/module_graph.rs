//! The crate's modules form a hierarchy: following the paths one module's
//! code names in another (`use crate::…`, `crate::…::X`, `super::…`, a child
//! module by name) never leads back to where it started. The reader is
//! `palisade_testkit::module_graph`.

use std::path::Path;

use palisade_testkit::module_graph::{find_cycle, graph, read_modules, show};

#[test]
fn the_crate_modules_form_a_hierarchy() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = read_modules(&src).expect("the crate's src/ is readable");
    assert!(modules.contains_key("breaker::admission") && modules.contains_key("layer::stream"));
    let edges = graph(&modules);
    // The reader sees the imports it must see.
    assert!(edges["breaker"].contains("config"), "{edges:?}");
    assert!(edges["breaker::admission"].contains("permit"), "{edges:?}");
    assert!(edges["permit"].contains("breaker"), "{edges:?}");
    // The state machine names neither its layer nor its registry.
    for above in ["layer", "registry"] {
        assert!(!edges["breaker"].contains(above), "{edges:?}");
    }
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import cycle: {}\n{edges:#?}", show(&cycle));
    }
}
