//! Finding members by capability and by metadata.

mod registry_support;

use foundation_runtime::registry::{Health, Kind, Metadata};
use registry_support::fixture;

#[test]
fn capability_lookup_lists_every_member_offering_it() {
    let f = fixture();
    let r = &f.registry;
    r.register("db-1", Metadata::new(Kind::Service).with_capability("sql"))
        .unwrap();
    r.register(
        "db-2",
        Metadata::new(Kind::Service)
            .with_capability("sql")
            .with_capability("kv")
            .with_health(Health::Unhealthy),
    )
    .unwrap();
    r.register("cache", Metadata::new(Kind::Service).with_capability("kv"))
        .unwrap();

    let names = |cap: &str| -> Vec<String> {
        let mut names: Vec<_> = r
            .by_capability(cap)
            .iter()
            .map(|e| e.name().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("sql"), ["db-1", "db-2"]);
    assert_eq!(names("kv"), ["cache", "db-2"]);
    assert!(names("gpu").is_empty());

    r.unregister("db-2").unwrap();
    assert_eq!(names("sql"), ["db-1"]);
    assert_eq!(names("kv"), ["cache"]);
    let stats = r.stats();
    assert_eq!((stats.capabilities, stats.capability_members), (2, 2));
}

#[test]
fn predicate_lookup_matches_on_any_metadata() {
    let f = fixture();
    let r = &f.registry;
    for (name, node, zone, kind) in [
        ("a", "n1", "eu", Kind::Service),
        ("b", "n2", "eu", Kind::Coordinator),
        ("c", "n1", "us", Kind::Service),
    ] {
        r.register(
            name,
            Metadata::new(kind).with_node(node).with_label("zone", zone),
        )
        .unwrap();
    }
    r.set_health("c", Health::Degraded).unwrap();

    let mut on_n1: Vec<_> = r
        .find(|e| e.metadata().node == "n1")
        .into_iter()
        .map(|e| e.name().to_owned())
        .collect();
    on_n1.sort();
    assert_eq!(on_n1, ["a", "c"]);

    let eu_coordinators = r.find(|e| {
        e.metadata().labels.get("zone").map(String::as_str) == Some("eu")
            && e.metadata().kind == Kind::Coordinator
    });
    assert_eq!(eu_coordinators.len(), 1);
    assert_eq!(eu_coordinators[0].name(), "b");

    let degraded = r.find(|e| e.metadata().health == Health::Degraded);
    assert_eq!(degraded.len(), 1);
    assert_eq!(degraded[0].name(), "c");
    assert_eq!(r.entries().len(), 3);
}

#[test]
fn a_predicate_may_use_the_registry_it_searches() {
    // Predicates run outside the registry's locks, so calling back in cannot deadlock.
    let f = fixture();
    let r = &f.registry;
    r.register("a", Metadata::new(Kind::Service)).unwrap();
    r.register("b", Metadata::new(Kind::Service)).unwrap();
    let found = r.find(|e| {
        r.set_health(e.name(), Health::Degraded).unwrap();
        r.contains(e.name())
    });
    assert_eq!(found.len(), 2);
}
