//! The custody chain's words in the page's language: steps, stages, actor roles, hold types.

use crate::custody::event::HoldType;
use crate::custody::rules::Stage;
use crate::custody::{Role, Step};
use crate::http::console::kit::tr;
use crate::http::page::Lang;

/// A step (or `recall`) by its wire name; an unknown name as it is.
pub(super) fn step(lang: Lang, name: &str) -> String {
    let (zh, en) = match Step::parse(name) {
        Some(s) => step_words(s),
        None if name == "recall" => ("召回", "Recall"),
        None => return name.to_string(),
    };
    tr(lang, zh, en).to_string()
}

fn step_words(s: Step) -> (&'static str, &'static str) {
    match s {
        Step::OriginAttestation => ("原产地检验", "Origin attestation"),
        Step::Packing => ("包装", "Packing"),
        Step::Shipping => ("承运", "Shipping"),
        Step::Departing => ("启运离港", "Departure"),
        Step::Arriving => ("抵港", "Arrival"),
        Step::CustomsDeclaration => ("报关", "Customs declaration"),
        Step::CustomsClearance => ("海关放行", "Customs clearance"),
        Step::Receiving => ("保税仓收货", "Receiving"),
        Step::Storing => ("保税仓存放", "Storing"),
        Step::Sampling => ("抽样检验", "Sampling inspection"),
        Step::Holding => ("扣留", "Hold"),
        Step::HoldRelease => ("解除扣留", "Hold lifted"),
        Step::Release => ("出区", "Release"),
        Step::RetailSale => ("零售", "Retail sale"),
        Step::SelfPickup => ("自提", "Self pickup"),
    }
}

/// How far a lot has come.
pub(super) fn stage(lang: Lang, s: Stage) -> &'static str {
    let (zh, en) = match s {
        Stage::New => ("尚无记录", "Nothing recorded yet"),
        Stage::Attested => ("已检验", "Attested"),
        Stage::Shipped => ("已承运", "Shipped"),
        Stage::Departed => ("已离港", "Departed"),
        Stage::Arrived => ("已抵港", "Arrived"),
        Stage::Declared => ("已报关", "Declared"),
        Stage::Cleared => ("已放行", "Cleared"),
        Stage::Received => ("在保税仓", "In the bonded warehouse"),
    };
    tr(lang, zh, en)
}

/// A custody actor's role by its wire name (`operator` for recalls).
pub(super) fn role(lang: Lang, name: &str) -> String {
    let (zh, en) = match Role::parse(name) {
        Some(Role::Inspector) => ("境外检验机构", "Inspector"),
        Some(Role::Carrier) => ("承运人", "Carrier"),
        Some(Role::CustomsBroker) => ("报关行", "Customs broker"),
        Some(Role::BondedWarehouse) => ("保税仓", "Bonded warehouse"),
        Some(Role::Retailer) => ("零售商", "Retailer"),
        None if name == "operator" => ("平台运营方", "Operator"),
        None => return name.to_string(),
    };
    tr(lang, zh, en).to_string()
}

/// A hold type.
pub(super) fn hold(lang: Lang, t: HoldType) -> &'static str {
    match t {
        HoldType::Customs => tr(lang, "海关扣留", "customs hold"),
        HoldType::Quality => tr(lang, "质量扣留", "quality hold"),
    }
}
