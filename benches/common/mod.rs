//! Set-up shared by the benches: a service over RocksDB in `dir` with one enterprise and the
//! product GTIN 09506000134352.

use traceseal::code::Host;
use traceseal::service::master::{EnterpriseInput, ProductInput};
use traceseal::service::setup::{self, DataDir, OpenOptions};
use traceseal::service::Service;

/// The product every bench issues and records.
pub const GTIN: &str = "09506000134352";

/// An initialised service with the bench product registered.
pub fn service(dir: &std::path::Path) -> Service {
    let dd = DataDir::new(dir);
    let host = Host::parse("verify.example.com").unwrap();
    setup::init(&dd, &host).unwrap();
    let svc = setup::open(&dd, OpenOptions::defaults(host)).unwrap();
    let e = svc
        .master()
        .create_enterprise(&EnterpriseInput {
            name: "Bench".into(),
            uscc: "91350100M000100Y43".into(),
            country: "CN".into(),
        })
        .unwrap();
    svc.master()
        .create_product(&ProductInput {
            gtin: GTIN.into(),
            name_zh: "基准".into(),
            name_en: "Bench".into(),
            enterprise_id: e.id,
            category: None,
        })
        .unwrap();
    svc
}
