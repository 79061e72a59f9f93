//! Layer order, profiles, files, environment arrays, provenance and redaction.

use std::io::Write;

use foundation_config::{Config, EnvSource, LayerSet, Schema, Secrets, Source, Value};

#[test]
fn layers_apply_lowest_first_and_explain_the_chain() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        file,
        "[db]\nhost = 'file'\n[profile.prod.db]\nhost = 'prod'\nport = 2"
    )
    .unwrap();
    let layers = LayerSet::new()
        .defaults(&toml::toml! { [db] host = "default" port = 1 user = "u" })
        .toml_file(file.path())
        .profile("prod")
        .env(EnvSource::new(
            "APP_",
            [
                ("APP_DB__HOST", "env"),
                ("APP_SERVERS__0__HOST", "a"),
                ("APP_SERVERS__1__HOST", "b"),
            ],
        ))
        .set("db.host", "override");
    let (config, _) = Config::load(Schema::new(), Secrets::default(), layers).unwrap();
    let e = config.explain("db.host");
    assert_eq!(e.value, Some(Value::from("override")));
    let prod = Source::Profile {
        name: "prod".into(),
        file: file.path().to_path_buf(),
        line: Some(4),
    };
    assert_eq!(
        e.chain,
        [
            Source::Default,
            Source::File {
                path: file.path().to_path_buf(),
                line: Some(2)
            },
            prod.clone(),
            Source::Env("APP_DB__HOST".into()),
            Source::Override
        ]
    );
    assert_eq!(
        config.explain("db.port").winner(),
        Some(&Source::Profile {
            name: "prod".into(),
            file: file.path().to_path_buf(),
            line: Some(5),
        })
    );
    assert_eq!(
        config.explain("db.port").winner().unwrap().to_string(),
        format!("profile prod in {}:5", file.path().display())
    );
    assert_eq!(config.explain("db.user").chain, [Source::Default]);
    let hosts: Vec<String> = config
        .get::<Vec<toml::Table>>("servers")
        .unwrap()
        .iter()
        .map(|t| t["host"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hosts, ["a", "b"]);
}

#[test]
fn missing_profile_is_an_error() {
    let layers = LayerSet::new().toml_str("a.toml", "x = 1").profile("nope");
    let err = Config::load(Schema::new(), Secrets::default(), layers).unwrap_err();
    assert!(
        err.message().contains("[profile.nope]"),
        "{}",
        err.message()
    );
}

#[test]
fn secrets_are_redacted_in_explain_display_and_debug() {
    let mut secrets = Secrets::default();
    secrets.mark("db.dsn");
    let layers = LayerSet::new().toml_str(
        "a.toml",
        "[db]\ndsn = 'pg://x'\npassword = 'hunter22'\nhost = 'h'",
    );
    let (config, _) = Config::load(Schema::new(), secrets, layers).unwrap();
    assert_eq!(config.explain("db.dsn").value, Some(Value::from("***")));
    assert_eq!(
        config.explain("db.password").value,
        Some(Value::from("***"))
    );
    let db = config.explain("db").value.unwrap();
    assert_eq!(db["host"].as_str(), Some("h"));
    assert_eq!(db["password"].as_str(), Some("***"));
    let shown = format!("{} {:?} {:?}", config.snapshot(), config.snapshot(), config);
    assert!(
        !shown.contains("hunter22") && !shown.contains("pg://x"),
        "{shown}"
    );
    assert!(shown.contains("db.host = \"h\""), "{shown}");
}

#[test]
fn repeated_overrides_replace_each_other_instead_of_piling_up() {
    let layers = (0..100)
        .fold(LayerSet::new(), |l, n| l.set("db.port", n))
        .set("db.host", "h")
        .set("db", toml::toml! { user = "u" })
        .set_for("a1", "db.port", 7)
        .set_for("a1", "db.port", 8);
    let shown: Vec<_> = layers
        .overrides()
        .map(|(a, p, _)| (a, p.to_string()))
        .collect();
    assert_eq!(
        shown,
        [
            (None, "db.port".to_string()),
            (None, "db.host".to_string()),
            (None, "db".to_string()),
            (Some("a1"), "db.port".to_string()),
        ]
    );
    let scalar = layers.set("db", 1);
    let left: Vec<_> = scalar
        .overrides()
        .map(|(a, p, _)| (a, p.to_string()))
        .collect();
    assert_eq!(
        left,
        [
            (Some("a1"), "db.port".to_string()),
            (None, "db".to_string())
        ],
        "a scalar replaces the service's overrides under it, not an agent's"
    );
}
