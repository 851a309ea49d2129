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
            ok.replace("version = \"2026-12.6\"", "version = \"\""),
            "version",
        ),
        (
            ok.replace("grade_d = 90", "grade_d = 400"),
            "warning.remediation_days.grade_d",
        ),
        (
            ok.replace("safety_recall = 180\n", ""),
            "warning.remediation_days.safety_recall",
        ),
        (
            ok.replace(
                "green_channel_grades = [\"A\"]",
                "green_channel_grades = [\"A\", \"C\"]",
            ),
            "grade C cannot both",
        ),
        (
            ok.replace("[\"infant_formula\",", "[\"baby_milk\","),
            "baby_milk",
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
    /// Whatever the facts, the score is in 0–100, more of any penalty never raises it, and a
    /// lifted hold never gives back more than its hold took.
    #[test]
    fn scores_stay_in_range_and_penalties_only_lower(
        days in 0i64..4000,
        filed: bool,
        listed: bool,
        events in proptest::collection::vec((0usize..Factor::DYNAMIC.len(), 0i64..400, 0u64..50), 0..12),
        extra in 0usize..Factor::DYNAMIC.len(),
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
        let factor = Factor::DYNAMIC[extra];
        let credit = model.dynamic[&factor].points > 0.0;
        facts.events.push(Dated { factor, day: 1000, count: 1 });
        let after = assess(&model, &facts, 1000);
        if credit {
            // Only a lifted hold gives points back, and half a hold's at most.
            proptest::prop_assert_eq!(factor, Factor::HoldLifted);
            proptest::prop_assert!(model.dynamic[&factor].points <= -model.dynamic[&Factor::Hold].points / 2.0);
            proptest::prop_assert!(after.score >= before.score);
        } else {
            proptest::prop_assert!(after.score <= before.score);
        }
    }
}

mod warning_list {
    use super::super::*;

    const TODAY: i64 = 20_429;

    fn model() -> Model {
        Model::default_model()
    }

    fn facts(events: &[(Factor, i64)]) -> Facts {
        Facts {
            events: events
                .iter()
                .map(|(factor, day)| Dated {
                    factor: *factor,
                    day: *day,
                    count: 1,
                })
                .collect(),
            ..Facts::default()
        }
    }

    fn rules(l: &[Listing]) -> Vec<WarningRule> {
        l.iter().map(|l| l.rule).collect()
    }

    /// Grade D lists at once; the listing outlives the grade by the remediation period
    /// (90 days), counted from the last day the grade was D.
    #[test]
    fn grade_d_lists_and_stays_listed_for_the_remediation_period() {
        let m = model();
        let none = Facts::default();
        let l = listings(&m, Grade::D, &none, &[], TODAY);
        assert_eq!(
            l,
            vec![Listing {
                rule: WarningRule::GradeD,
                since: TODAY,
                last: TODAY,
                until: TODAY + 90
            }]
        );
        // Still D ten days on: the listing goes on from when it began.
        let l = listings(&m, Grade::D, &none, &l, TODAY + 10);
        assert_eq!(
            (l[0].since, l[0].last, l[0].until),
            (TODAY, TODAY + 10, TODAY + 100)
        );
        // Up to C: listed until 90 days after the last day at D, then off.
        let c = listings(&m, Grade::C, &none, &l, TODAY + 11);
        assert_eq!(c, l);
        let c = listings(&m, Grade::C, &none, &c, TODAY + 99);
        assert_eq!(rules(&c), vec![WarningRule::GradeD]);
        assert!(listings(&m, Grade::C, &none, &c, TODAY + 100).is_empty());
        assert!(listings(&m, Grade::B, &none, &[], TODAY).is_empty());
    }

    /// A safety recall or an upheld counterfeit complaint lists for 180 days from the
    /// latest one; a run of them overlapping each other's periods counts from its first.
    #[test]
    fn recalls_and_complaints_list_from_the_first_of_their_run() {
        let m = model();
        let f = facts(&[
            (Factor::SafetyRecall, TODAY - 10),
            (Factor::ComplaintCounterfeit, TODAY - 300),
            (Factor::ComplaintCounterfeit, TODAY - 100),
            (Factor::ComplaintCounterfeit, TODAY - 20),
            // Other factors never list.
            (Factor::Recall, TODAY),
            (Factor::ComplaintQuality, TODAY),
        ]);
        let l = listings(&m, Grade::B, &f, &[], TODAY);
        assert_eq!(
            l,
            vec![
                Listing {
                    rule: WarningRule::SafetyRecall,
                    since: TODAY - 10,
                    last: TODAY - 10,
                    until: TODAY + 170
                },
                Listing {
                    rule: WarningRule::CounterfeitComplaint,
                    // TODAY − 300's period ended at TODAY − 120, before TODAY − 100.
                    since: TODAY - 100,
                    last: TODAY - 20,
                    until: TODAY + 160
                },
            ]
        );
        // An old complaint alone, its period over: not listed.
        let old = facts(&[(Factor::ComplaintCounterfeit, TODAY - 180)]);
        assert!(listings(&m, Grade::B, &old, &[], TODAY).is_empty());
        // A date ahead of today (a clock set back) counts as today.
        let ahead = facts(&[(Factor::SafetyRecall, TODAY + 5)]);
        let l = listings(&m, Grade::B, &ahead, &[], TODAY);
        assert_eq!((l[0].since, l[0].until), (TODAY, TODAY + 180));
    }

    fn standing(grade: Option<Grade>, warnings: &[WarningRule], dishonest: bool) -> Standing {
        Standing {
            grade,
            warnings: warnings.to_vec(),
            dishonest,
        }
    }

    /// Listed or graded C/D: always sampled; otherwise grade A waives it (the green
    /// channel); otherwise the high-risk categories are sampled.
    #[test]
    fn sampling_follows_listing_then_green_channel_then_category() {
        let s = &model().supervision;
        let infant = Some(ProductCategory::InfantFormula);
        let wine = Some(ProductCategory::Alcohol);
        use SamplingDecision as D;
        use SamplingReason as R;
        assert_eq!(
            sampling(s, &standing(Some(Grade::A), &[], false), infant),
            D::GreenChannel
        );
        assert_eq!(
            sampling(s, &standing(Some(Grade::B), &[], false), infant),
            D::Required(vec![R::Category {
                category: ProductCategory::InfantFormula
            }])
        );
        assert_eq!(
            sampling(s, &standing(Some(Grade::B), &[], false), wine),
            D::NotRequired
        );
        assert_eq!(
            sampling(s, &standing(None, &[], false), None),
            D::NotRequired
        );
        assert_eq!(
            sampling(s, &standing(Some(Grade::C), &[], false), wine),
            D::Required(vec![R::Grade { grade: Grade::C }])
        );
        // A listed grade-A importer has no green channel.
        let listed = standing(Some(Grade::A), &[WarningRule::CounterfeitComplaint], true);
        let d = sampling(s, &listed, wine);
        assert_eq!(
            d,
            D::Required(vec![
                R::WarningList {
                    rule: WarningRule::CounterfeitComplaint
                },
                R::DishonestyList
            ])
        );
        let D::Required(reasons) = d else {
            unreachable!()
        };
        assert_eq!(
            reasons[0].to_string(),
            "the importer is on the warning list (counterfeit_complaint)"
        );
    }
}

/// The origin-country table is the regulator's: empty as shipped (no factor), and when
/// filled, the riskiest listed country of an enterprise's origins counts; keys must be
/// alpha-2 codes.
#[test]
fn the_riskiest_listed_origin_country_counts() {
    let shipped = Model::default_model();
    assert!(shipped.statics.origin_risk.is_empty());
    let text = DEFAULT_MODEL.replace(
        "[static.origin_risk]\n",
        "[static.origin_risk]\nXX = -6.0\nYY = -2.0\n",
    );
    let m = Model::parse(&text).unwrap();
    let facts = Facts {
        registration_filed: true,
        origins: vec!["YY".into(), "XX".into(), "ZZ".into()],
        ..Facts::default()
    };
    let a = assess(&m, &facts, 20_429);
    let origin = a
        .contributions
        .iter()
        .find(|c| c.factor == Factor::OriginRisk)
        .unwrap();
    assert_eq!(origin.points, -6.0);
    assert_eq!(a.score, 78.0 + 5.0 - 6.0);
    assert!(assess(&shipped, &facts, 20_429)
        .contributions
        .iter()
        .all(|c| c.factor != Factor::OriginRisk));
    let bad = DEFAULT_MODEL.replace(
        "[static.origin_risk]\n",
        "[static.origin_risk]\nau = -6.0\n",
    );
    let e = Model::parse(&bad).unwrap_err().to_string();
    assert!(e.contains("static.origin_risk.au"), "{e}");
}
