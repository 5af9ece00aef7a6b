//! Tier 1: docs/json.md stays true. Every example must parse into the document type named
//! above it, with no field missing or unknown (the types deny unknown fields), must
//! serialise back to the same JSON, and every field it uses must be described on the page.

use netpilot_api::monitor::{
    ConnectionsDocument, ErrorDocument, InterfacesDocument, PortsDocument, TrafficDocument,
};
use netpilot_api::wifi::{
    EthernetDevicesDocument, HotspotStatusDocument, WifiConnectDocument, WifiDisconnectDocument,
    WifiForgetDocument, WifiListDocument, WifiRadioDocument, WifiSavedDocument, WifiSetDocument,
    WifiShowDocument, WifiStatusDocument,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeSet;

const DOCS: &str = include_str!("../../../docs/json.md");

/// (type name, JSON) of every `<!-- example: Type -->` fenced block.
fn examples() -> Vec<(&'static str, &'static str)> {
    let mut found = Vec::new();
    let mut rest = DOCS;
    while let Some(at) = rest.find("<!-- example: ") {
        rest = &rest[at + "<!-- example: ".len()..];
        let name = &rest[..rest.find(" -->").expect("marker ends")];
        let start = rest
            .find("```json\n")
            .expect("a json block follows the marker")
            + 8;
        let end = start + rest[start..].find("```").expect("the block ends");
        found.push((name, &rest[start..end]));
    }
    found
}

fn round_trips<T: DeserializeOwned + Serialize>(name: &str, json: &str) {
    let written: Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
    let parsed: T = serde_json::from_value(written.clone())
        .unwrap_or_else(|e| panic!("{name}: the example does not match the type: {e}"));
    let again = serde_json::to_value(&parsed).unwrap();
    assert_eq!(
        again, written,
        "{name}: the type writes the example differently"
    );
}

fn keys(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                // Keys of `byState` are state names, documented as values.
                into.insert(key.clone());
                keys(value, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, into)),
        _ => {}
    }
}

#[test]
fn every_document_type_has_an_example_and_every_example_its_type() {
    let names: BTreeSet<&str> = examples().iter().map(|(name, _)| *name).collect();
    let expected = BTreeSet::from([
        "InterfacesDocument",
        "ConnectionsDocument",
        "PortsDocument",
        "TrafficDocument",
        "ErrorDocument",
        "WifiListDocument",
        "WifiStatusDocument",
        "WifiConnectDocument",
        "WifiDisconnectDocument",
        "WifiForgetDocument",
        "WifiRadioDocument",
        "WifiSavedDocument",
        "WifiSetDocument",
        "WifiShowDocument",
        "EthernetDevicesDocument",
        "HotspotStatusDocument",
    ]);
    assert_eq!(names, expected);
    for (name, json) in examples() {
        match name {
            "InterfacesDocument" => round_trips::<InterfacesDocument>(name, json),
            "ConnectionsDocument" => round_trips::<ConnectionsDocument>(name, json),
            "PortsDocument" => round_trips::<PortsDocument>(name, json),
            "TrafficDocument" => round_trips::<TrafficDocument>(name, json),
            "ErrorDocument" => round_trips::<ErrorDocument>(name, json),
            "WifiListDocument" => round_trips::<WifiListDocument>(name, json),
            "WifiStatusDocument" => round_trips::<WifiStatusDocument>(name, json),
            "WifiConnectDocument" => round_trips::<WifiConnectDocument>(name, json),
            "WifiDisconnectDocument" => round_trips::<WifiDisconnectDocument>(name, json),
            "WifiForgetDocument" => round_trips::<WifiForgetDocument>(name, json),
            "WifiRadioDocument" => round_trips::<WifiRadioDocument>(name, json),
            "WifiSavedDocument" => round_trips::<WifiSavedDocument>(name, json),
            "WifiSetDocument" => round_trips::<WifiSetDocument>(name, json),
            "WifiShowDocument" => round_trips::<WifiShowDocument>(name, json),
            "EthernetDevicesDocument" => round_trips::<EthernetDevicesDocument>(name, json),
            "HotspotStatusDocument" => round_trips::<HotspotStatusDocument>(name, json),
            other => panic!("docs/json.md has an example of unknown type {other}"),
        }
    }
}

#[test]
fn every_field_of_every_example_is_described() {
    let prose: String = DOCS.split("```").step_by(2).collect();
    for (name, json) in examples() {
        let mut fields = BTreeSet::new();
        keys(&serde_json::from_str(json).unwrap(), &mut fields);
        for field in fields {
            assert!(
                prose.contains(&format!("`{field}`")) || prose.contains(&format!("`\"{field}\"`")),
                "docs/json.md does not describe `{field}` (used by the {name} example)"
            );
        }
    }
}
