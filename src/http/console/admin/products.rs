//! Products: the list (`GET /api/v1/products`: an enterprise role sees its own enterprise's,
//! the operator and regulator all), the form that registers one (`POST /api/v1/products`) and
//! the one that edits one (`PUT /api/v1/products/{gtin}`). The GTIN, names and enterprise are
//! checked by the service the API uses, so the form says what the API would say.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::form::{admit_enterprise, finish, ok_page, Write};
use crate::authz::{Role, Target};
use crate::http::console::kit::{owned, scope, tr, Viewer};
use crate::http::console::pages::{failed, open_page, signed_in, ROWS};
use crate::http::console::staff::table;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::errors::InputError;
use crate::service::master::{Product, ProductCategory, ProductInput};
use crate::service::ServiceError;

const HERE: &str = "/console/products";

/// `?after=<gtin>`: the next page.
#[derive(Debug, Default, Deserialize)]
pub(in crate::http::console) struct After {
    #[serde(default)]
    after: Option<String>,
}

/// `GET /console/products`: a page of products and the form that registers one.
pub(in crate::http::console) async fn page(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<After>, QueryRejection>,
) -> Response {
    let (lang, v, only) = match open_page(&st, &headers, "GET", "/api/v1/products").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let after = q.map(|Query(q)| q.after).unwrap_or_default();
    let (svc, a) = (st.svc.clone(), after.clone());
    let listed = blocking(move || svc.master().list_products(only, a.as_deref(), ROWS + 1)).await;
    let mut list = match listed {
        Ok(l) => l,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let more = list.len() > ROWS;
    list.truncate(ROWS);
    let next = match (more, list.last()) {
        (true, Some(p)) => format!(
            "<p><a href=\"{HERE}?after={}\">{}</a></p>",
            esc(&p.gtin),
            tr(lang, "下一页 →", "Next page →")
        ),
        _ => String::new(),
    };
    let form = match scope(&v.principal, "POST", "/api/v1/products") {
        Ok(_) => new_form(lang, &v),
        Err(_) => String::new(),
    };
    let body = format!(
        "<section>{}{next}</section>{form}",
        product_table(lang, &list)
    );
    ok_page(lang, &v, tr(lang, "商品", "Products"), HERE, &body)
}

fn product_table(lang: Lang, list: &[Product]) -> String {
    let rows: String = list
        .iter()
        .map(|p| {
            format!(
                "<tr><td class=\"mono\"><a href=\"{HERE}/{g}\">{g}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.name_zh),
                esc(&p.name_en),
                p.category.map_or("—", |c| category_label(lang, c)),
                p.enterprise_id,
                esc(&p.updated_at),
                g = esc(&p.gtin),
            )
        })
        .collect();
    let head = [
        ("GTIN", "GTIN"),
        ("中文名称", "Chinese name"),
        ("英文名称", "English name"),
        ("类别", "Category"),
        ("企业", "Enterprise"),
        ("更新时间", "Updated"),
    ];
    table(lang, &head, &rows)
}

/// The fields of both forms; `gtin` is the path's when editing.
fn fields(lang: Lang, v: &Viewer, p: Option<&Product>) -> String {
    let val = |f: fn(&Product) -> &str| p.map(|p| esc(f(p))).unwrap_or_default();
    let gtin = match p {
        Some(p) => format!(
            "<p><strong>GTIN</strong> <span class=\"mono\">{}</span></p>",
            esc(&p.gtin)
        ),
        None => format!(
            "<label for=\"gtin\">{}</label><input type=\"text\" id=\"gtin\" name=\"gtin\" inputmode=\"numeric\" pattern=\"[0-9]{{8}}|[0-9]{{12,14}}\" maxlength=\"14\" required>",
            tr(lang, "GTIN（8、12、13 或 14 位，含校验位）", "GTIN (8, 12, 13 or 14 digits, check digit included)")
        ),
    };
    let ent = match v.principal.role {
        Role::Operator => format!(
            "<label for=\"enterprise_id\">{}</label><input type=\"text\" inputmode=\"numeric\" id=\"enterprise_id\" name=\"enterprise_id\" value=\"{}\" required>",
            tr(lang, "企业编号", "Enterprise id"),
            p.map(|p| p.enterprise_id.to_string()).unwrap_or_default()
        ),
        _ => String::new(),
    };
    format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">{gtin}\
         <label for=\"name_zh\">{zh}</label><input type=\"text\" id=\"name_zh\" name=\"name_zh\" maxlength=\"200\" value=\"{vzh}\" required>\
         <label for=\"name_en\">{en}</label><input type=\"text\" id=\"name_en\" name=\"name_en\" maxlength=\"200\" value=\"{ven}\" required>{cat}{ent}",
        cat = category_select(lang, p.and_then(|p| p.category)),
        csrf = esc(&v.session.csrf_token),
        zh = tr(lang, "中文名称", "Chinese name"),
        en = tr(lang, "英文名称", "English name"),
        vzh = val(|p| &p.name_zh),
        ven = val(|p| &p.name_en),
    )
}

fn new_form(lang: Lang, v: &Viewer) -> String {
    format!(
        "<section><h2>{}</h2><form method=\"post\" action=\"{HERE}\">{}<button class=\"primary\" type=\"submit\">{}</button></form></section>",
        tr(lang, "登记商品", "Register a product"),
        fields(lang, v, None),
        tr(lang, "登记", "Register"),
    )
}

/// The product forms' fields (all optional here: what is missing, the service refuses).
#[derive(Debug, Default, Deserialize)]
pub(in crate::http::console) struct ProductForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    gtin: String,
    #[serde(default)]
    name_zh: String,
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    enterprise_id: String,
    #[serde(default)]
    category: String,
}

impl ProductForm {
    /// The API's body; an unknown category is refused as the API would refuse it.
    fn input(&self, gtin: &str, enterprise_id: u64) -> Result<ProductInput, ServiceError> {
        let category = match self.category.trim() {
            "" => None,
            c => Some(
                ProductCategory::ALL
                    .into_iter()
                    .find(|x| x.as_str() == c)
                    .ok_or_else(|| {
                        InputError::field("category", format!("category: unknown {c:?}"))
                    })?,
            ),
        };
        Ok(ProductInput {
            gtin: gtin.trim().to_string(),
            name_zh: self.name_zh.clone(),
            name_en: self.name_en.clone(),
            enterprise_id,
            category,
        })
    }
}

/// The category's name in the console's language.
fn category_label(lang: Lang, c: ProductCategory) -> &'static str {
    use ProductCategory as C;
    match c {
        C::InfantFormula => tr(lang, "婴幼儿配方食品", "Infant formula"),
        C::SpecialMedicalFood => tr(
            lang,
            "特殊医学用途配方食品",
            "Food for special medical purposes",
        ),
        C::HealthFood => tr(lang, "保健食品", "Health food"),
        C::Dairy => tr(lang, "乳制品", "Dairy"),
        C::Alcohol => tr(lang, "酒类", "Alcohol"),
        C::Food => tr(lang, "其他食品", "Other food"),
        C::Cosmetics => tr(lang, "化妆品", "Cosmetics"),
        C::Other => tr(lang, "其他", "Other"),
    }
}

/// The category field: a select of every category, `current` chosen.
fn category_select(lang: Lang, current: Option<ProductCategory>) -> String {
    let options: String = ProductCategory::ALL
        .into_iter()
        .map(|c| {
            let sel = if current == Some(c) { " selected" } else { "" };
            format!(
                "<option value=\"{}\"{sel}>{}</option>",
                c.as_str(),
                category_label(lang, c)
            )
        })
        .collect();
    format!(
        "<label for=\"category\">{}</label><select id=\"category\" name=\"category\"><option value=\"\">—</option>{options}</select>",
        tr(lang, "类别（计入企业信用评级）", "Category (counts in the enterprise's credit grade)")
    )
}

/// `POST /console/products`: registers a product (the grant of `POST /api/v1/products` on
/// the enterprise the form names).
pub(in crate::http::console) async fn create(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<ProductForm>, FormRejection>,
) -> Response {
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let w = Write {
        api: ("POST", "/api/v1/products"),
        console: HERE,
        path: HERE.into(),
        named: vec![("gtin", f.gtin.clone())],
        back: HERE.into(),
    };
    let form = (f.csrf_token.as_str(), f.enterprise_id.as_str());
    let (a, e) = match admit_enterprise(&st, &headers, form, &w, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let done = blocking(move || svc.master().create_product(&f.input(&f.gtin, e)?)).await;
    finish(&st, &a, &w, done, StatusCode::CREATED, |p| {
        format!("{HERE}/{}", p.gtin)
    })
    .await
}

/// `GET /console/products/{gtin}`: the product, with its edit form for who may change it.
pub(in crate::http::console) async fn one(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    gtin: Result<Path<String>, PathRejection>,
) -> Response {
    let lang = Lang::from_headers(&headers, None);
    let v = match signed_in(&st, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let gtin = gtin.map(|Path(g)| g).unwrap_or_default();
    let target = || Some(Target::Product(gtin.clone()));
    let route = "/api/v1/products/{gtin}";
    if let Err((s, why)) = owned(&st, &v.principal, "GET", route, target()).await {
        return failed(lang, &v, s, &why, HERE);
    }
    let (svc, g) = (st.svc.clone(), gtin.clone());
    let p = match blocking(move || svc.master().product(&g)).await {
        Ok(p) => p,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let may_edit = owned(&st, &v.principal, "PUT", route, target())
        .await
        .is_ok();
    let body = match may_edit {
        true => format!(
            "<section><form method=\"post\" action=\"{HERE}/{}\">{}<button class=\"primary\" type=\"submit\">{}</button></form></section>",
            esc(&p.gtin),
            fields(lang, &v, Some(&p)),
            tr(lang, "保存", "Save"),
        ),
        false => format!("<section>{}</section>", product_table(lang, std::slice::from_ref(&p))),
    };
    let title = format!("{} {}", tr(lang, "商品", "Product"), p.gtin);
    ok_page(lang, &v, &title, HERE, &body)
}

/// `POST /console/products/{gtin}`: changes a product (the grant of
/// `PUT /api/v1/products/{gtin}` on both the product and the enterprise the form names).
pub(in crate::http::console) async fn update(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    gtin: Result<Path<String>, PathRejection>,
    form: Result<Form<ProductForm>, FormRejection>,
) -> Response {
    let gtin = gtin.map(|Path(g)| g).unwrap_or_default();
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let here = format!("{HERE}/{gtin}");
    let w = Write {
        api: ("PUT", "/api/v1/products/{gtin}"),
        console: "/console/products/{gtin}",
        path: here.clone(),
        named: vec![("gtin", gtin.clone())],
        back: here,
    };
    let form = (f.csrf_token.as_str(), f.enterprise_id.as_str());
    let (a, e) = match admit_enterprise(
        &st,
        &headers,
        form,
        &w,
        Some(Target::Product(gtin.clone())),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let done = blocking(move || svc.master().update_product(&gtin, &f.input(&gtin, e)?)).await;
    finish(&st, &a, &w, done, StatusCode::OK, |p| {
        format!("{HERE}/{}", p.gtin)
    })
    .await
}
