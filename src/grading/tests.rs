use super::*;

#[derive(Deserialize)]
struct Vectors {
    model: String,
    today: i64,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    facts: Facts,
    score: f64,
    grade: Grade,
}

/// The golden vectors were worked out by hand from `model.toml` (see each one's name); a
/// change to a weight must come with a new version and new vectors.
#[test]
fn golden_vectors() {
    let v: Vectors =
        serde_json::from_str(include_str!("../../fixtures/credit-model-vectors.json")).unwrap();
    let model = Model::default_model();
    assert_eq!(v.model, model.version, "vectors of another model version");
    assert!(v.vectors.len() >= 10);
    for t in &v.vectors {
        let a = assess(&model, &t.facts, v.today);
        assert_eq!((a.score, a.grade), (t.score, t.grade), "{}", t.name);
        let sum: f64 = a.contributions.iter().map(|c| c.points).sum();
        if (1.0..99.0).contains(&a.score) {
            assert!(
                (model.base + sum - a.score).abs() < 0.051,
                "{}: the contributions add up to the score",
                t.name
            );
        }
    }
}

#[test]
fn contributions_name_each_factor_once() {
    let model = Model::default_model();
    let facts = Facts {
        registered_days: 400,
        registration_filed: true,
        events: vec![
            Dated {
                factor: Factor::Hold,
                day: 100,
                count: 2,
            },
            Dated {
                factor: Factor::Hold,
                day: 100 - 180,
                count: 1,
            },
        ],
        ..Facts::default()
    };
    let a = assess(&model, &facts, 100);
    let holds: Vec<_> = a
        .contributions
        .iter()
        .filter(|c| c.factor == Factor::Hold)
        .collect();
    assert_eq!(holds.len(), 1);
    // Two today at full weight, one a half-life ago at half.
    assert_eq!((holds[0].amount, holds[0].points), (2.5, -7.5));
}

#[test]
fn model_files_with_errors_are_refused_with_the_reason() {
    let ok = DEFAULT_MODEL;
    let cases = [
        (ok.replace("A = 85.0", "A = 60.0"), "A > B > C"),
        (
            ok.replace("half_life_days = 180.0", "half_life_days = 0.0"),
            "decay",
        ),
        (
            ok.replace("points = -15.0", "points = 15.0"),
            "dynamic.recall",
        ),
        (
            ok.replace("[dynamic.forged_scan]", "[dynamic.age]"),
            "dynamic.forged_scan",
        ),
        (
            ok.replace("base = 78.0", "base = 78.0\nextra = 1"),
            "unknown field",
        ),
        (
            ok.replace("listed = -40.0", "listed = nan"),
            "static.listed",
        ),
        (
            ok.replace(", D = -25.0 }", " }"),
            "static.authority_rating.D",
        ),
        (
            ok.replace("registration_filed = 5.0", "registration_filed = inf"),
            "static.registration_filed",
        ),
        (ok.replace("cap = -45.0", "cap = -1000.0"), "dynamic.recall"),
        (
            ok.replace("hysteresis = 2.0", "hysteresis = nan"),
            "hysteresis",
        ),
        (
            ok.replace("version = \"2026-12.4\"", "version = \"\""),
            "version",
        ),
    ];
    for (text, want) in cases {
        assert_ne!(text, ok, "{want}: the case changes the file");
        let err = Model::parse(&text).unwrap_err().to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(Model::parse(ok).is_ok());
}

proptest::proptest! {
    /// Whatever the facts, the score is in 0–100 and more of any penalty never raises it.
    #[test]
    fn scores_stay_in_range_and_penalties_only_lower(
        days in 0i64..4000,
        filed: bool,
        listed: bool,
        events in proptest::collection::vec((0usize..8, 0i64..400, 0u64..50), 0..12),
        extra in 0usize..8,
    ) {
        let model = Model::default_model();
        let mut facts = Facts {
            registered_days: days,
            registration_filed: filed,
            listed,
            events: events
                .iter()
                .map(|(f, age, n)| Dated { factor: Factor::DYNAMIC[*f], day: 1000 - age, count: *n })
                .collect(),
            ..Facts::default()
        };
        let before = assess(&model, &facts, 1000);
        proptest::prop_assert!((0.0..=100.0).contains(&before.score));
        facts.events.push(Dated { factor: Factor::DYNAMIC[extra], day: 1000, count: 1 });
        let after = assess(&model, &facts, 1000);
        proptest::prop_assert!(after.score <= before.score);
    }
}
