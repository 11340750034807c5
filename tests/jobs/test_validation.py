"""The submit checks of ``app.jobs.validation``, one function at a time, without a server: real
requests, real settings, the real data layer on real files in a temporary data root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.core.exceptions import ConfigurationError, FieldError
from app.integrations.data_layer import LocalDataLayerClient, SourceCheck
from app.jobs.schemas import TrainingJobRequest
from app.jobs.validation import (
    check_algorithm,
    check_columns,
    check_parameter_caps,
    check_resources,
    check_search,
    check_source,
    readable_by,
    validate_request,
)
from app.trainer import SpecError
from app.trainer.algorithms import get_algorithm
from tests.fixtures.jobs import job_request

CAPS = {"n_estimators": 500.0, "max_depth": 50.0}


def request_of(**overrides: Any) -> TrainingJobRequest:
    return TrainingJobRequest.model_validate(job_request(**overrides))


def algorithm(name: str, **parameters: Any) -> dict[str, Any]:
    return {"name": name, "parameters": parameters}


def search(strategy: str, space: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"strategy": strategy, "search_space": space, **extra}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    (path / "people.csv").write_text("age,city,bought\n31,Oslo,1\n45,Rome,0\n")
    return path


@pytest.fixture
def data_client(root: Path) -> LocalDataLayerClient:
    return LocalDataLayerClient([root])


@pytest.fixture
def settings(root: Path, tmp_path: Path) -> Settings:
    return Settings(
        data_roots=[root],
        artifact_root=tmp_path / "artifacts",
        max_n_jobs=2,
        max_search_fits=30,
        max_runtime_seconds_limit=600,
        default_max_runtime_seconds=120,
        max_memory_limit_mb=1024,
        parameter_caps=CAPS,
    )


# -- check_algorithm ----------------------------------------------------------------------


def test_check_algorithm_returns_the_estimator_info() -> None:
    info = check_algorithm(request_of(algorithm_config=algorithm("SVC", C=2.0)))
    assert info.name == "SVC"
    assert info.task == "classification"


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        (algorithm("RandomForest"), "algorithm_config.name", "did you mean"),
        (algorithm("SVC", gamma_typo=1), "algorithm_config.parameters.gamma_typo", "no parameter"),
        (algorithm("SVC", C="large"), "algorithm_config.parameters.C", "'C' parameter"),
        (algorithm("SVC", kernel="os.system"), "algorithm_config.parameters.kernel", "import"),
        (
            {"name": "Ridge", "task": "classification"},
            "algorithm_config.task",
            "regression model, not classification",
        ),
    ],
)
def test_check_algorithm_names_the_field(config: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        check_algorithm(request_of(algorithm_config=config))
    assert caught.value.field == field
    assert words in caught.value.message


def test_parameters_once_accepted_are_not_built_again_and_a_refusal_is_made_each_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.jobs import validation

    built: list[dict[str, Any]] = []
    real = validation.build_estimator

    def counting(info: Any, parameters: dict[str, Any]) -> Any:
        built.append(parameters)
        return real(info, parameters)

    monkeypatch.setattr(validation, "build_estimator", counting)
    accepted = request_of(algorithm_config=algorithm("SVC", C=3.25, kernel="rbf"))
    check_algorithm(accepted)
    check_algorithm(accepted)
    check_algorithm(request_of(algorithm_config=algorithm("SVC", kernel="rbf", C=3.25)))
    assert built == [{"C": 3.25, "kernel": "rbf"}]  # the same parameters in any order
    check_algorithm(request_of(algorithm_config=algorithm("SVC", C=3.5)))
    assert len(built) == 2
    refused = request_of(algorithm_config=algorithm("SVC", C="huge"))
    for _ in range(2):
        with pytest.raises(SpecError):
            check_algorithm(refused)
    assert len(built) == 4


# -- check_search -------------------------------------------------------------------------


def test_check_search_without_a_search_is_nothing_to_check() -> None:
    request = request_of()
    check_search(request, get_algorithm("RandomForestClassifier"), max_fits=1)


def test_check_search_accepts_a_search_within_the_fit_budget() -> None:
    request = request_of(
        algorithm_config=algorithm("SVC"),
        hyperparameter_tuning_config=search("grid", {"C": [0.1, 1.0, 10.0]}, cv_folds=3),
    )
    check_search(request, get_algorithm("SVC"), max_fits=9)


def test_check_search_refuses_more_fits_than_allowed() -> None:
    request = request_of(
        algorithm_config=algorithm("SVC"),
        hyperparameter_tuning_config=search("grid", {"C": [0.1, 1.0, 10.0]}, cv_folds=3),
    )
    with pytest.raises(SpecError) as caught:
        check_search(request, get_algorithm("SVC"), max_fits=8)
    assert caught.value.field == "hyperparameter_tuning_config.search_space"
    assert "9 fits" in caught.value.message


# -- check_parameter_caps -----------------------------------------------------------------


def test_parameters_under_the_caps_pass() -> None:
    request = request_of(
        algorithm_config=algorithm("RandomForestClassifier", n_estimators=500, max_depth=None)
    )
    assert check_parameter_caps(request, CAPS) == []


def test_a_parameter_over_its_cap_is_named() -> None:
    request = request_of(algorithm_config=algorithm("RandomForestClassifier", n_estimators=501))
    [error] = check_parameter_caps(request, CAPS)
    assert error.field == "algorithm_config.parameters.n_estimators"
    assert "501" in error.message
    assert "TRAINYARD_PARAMETER_CAPS" in error.message


def test_caps_look_inside_lists_and_ignore_booleans_and_other_names() -> None:
    nested = request_of(algorithm_config=algorithm("MLPClassifier", hidden_layer_sizes=[10, 90]))
    caps = {"hidden_layer_sizes": 50.0, "warm_start": 0.0}
    [error] = check_parameter_caps(nested, caps)
    assert error.field == "algorithm_config.parameters.hidden_layer_sizes"
    assert "90" in error.message
    flag = request_of(algorithm_config=algorithm("MLPClassifier", warm_start=True))
    assert check_parameter_caps(flag, caps) == []


@pytest.mark.parametrize(
    "dimension",
    [
        [100, 1000],
        {"type": "int", "low": 10, "high": 1000},
        {"type": "categorical", "choices": [10, 1000]},
    ],
)
def test_caps_apply_to_search_ranges_and_choices(dimension: Any) -> None:
    request = request_of(
        hyperparameter_tuning_config=search("random", {"n_estimators": dimension}),
    )
    [error] = check_parameter_caps(request, CAPS)
    assert error.field == "hyperparameter_tuning_config.search_space.n_estimators"
    assert "1000" in error.message


def test_every_capped_parameter_is_reported() -> None:
    request = request_of(
        algorithm_config=algorithm("RandomForestClassifier", n_estimators=900, max_depth=99),
        hyperparameter_tuning_config=search("random", {"n_estimators": [10, 700]}),
    )
    fields = {e.field for e in check_parameter_caps(request, CAPS)}
    assert fields == {
        "algorithm_config.parameters.n_estimators",
        "algorithm_config.parameters.max_depth",
        "hyperparameter_tuning_config.search_space.n_estimators",
    }


# -- check_resources ----------------------------------------------------------------------


def test_no_resource_config_gets_the_default_runtime(settings: Settings) -> None:
    assert check_resources(request_of(), settings) == (120, [])


def test_the_asked_runtime_within_the_limit_is_granted(settings: Settings) -> None:
    request = request_of(resource_config={"max_runtime_seconds": 600, "memory_limit_mb": 1024})
    assert check_resources(request, settings) == (600, [])


def test_runtime_and_memory_over_their_limits_are_both_named(settings: Settings) -> None:
    request = request_of(resource_config={"max_runtime_seconds": 601, "memory_limit_mb": 1025})
    runtime, errors = check_resources(request, settings)
    assert runtime == 601
    assert [e.field for e in errors] == [
        "resource_config.max_runtime_seconds",
        "resource_config.memory_limit_mb",
    ]
    assert "600 seconds" in errors[0].message
    assert "1024 MiB" in errors[1].message


def test_a_resource_config_without_a_runtime_keeps_the_default(settings: Settings) -> None:
    assert check_resources(request_of(resource_config={"n_jobs": 2}), settings) == (120, [])


# -- readable_by --------------------------------------------------------------------------


def test_uploads_are_readable_by_their_tenant_only(root: Path) -> None:
    mine = str(root.resolve() / "uploads" / "team-a" / "x.csv")
    assert readable_by(mine, "team-a", [root])
    assert not readable_by(mine, "team-b", [root])
    # A tenant whose name is a prefix of another's is not the other tenant.
    assert not readable_by(mine, "team", [root])


def test_without_tenants_and_outside_uploads_everything_is_readable(root: Path) -> None:
    upload = str(root.resolve() / "uploads" / "team-a" / "x.csv")
    assert readable_by(upload, "", [root])
    assert readable_by(str(root.resolve() / "people.csv"), "team-b", [root])
    assert readable_by("sklearn://iris", "team-b", [root])


# -- check_source -------------------------------------------------------------------------


def people(**extra: Any) -> dict[str, Any]:
    return {"path": "people.csv", "target_column": "bought", **extra}


def test_check_source_reads_the_header(data_client: LocalDataLayerClient, root: Path) -> None:
    source, errors = check_source(
        request_of(data_source_config=people()), data_client, tenant="", data_roots=[root]
    )
    assert errors == []
    assert source is not None
    assert source.columns == ["age", "city", "bought"]
    assert source.format == "csv"
    assert source.location == str((root / "people.csv").resolve())


@pytest.mark.parametrize(
    ("path", "words"),
    [("missing.csv", "missing.csv"), ("../outside.csv", "outside"), ("sklearn://nope", "nope")],
)
def test_check_source_turns_a_refused_source_into_field_errors(
    data_client: LocalDataLayerClient, root: Path, path: str, words: str
) -> None:
    request = request_of(data_source_config={"path": path, "target_column": "y"})
    source, errors = check_source(request, data_client, tenant="", data_roots=[root])
    assert source is None
    assert [e.field for e in errors] == ["data_source_config.path"]
    assert words in errors[0].message


def test_another_tenants_upload_is_no_such_file(
    data_client: LocalDataLayerClient, root: Path
) -> None:
    uploads = root / "uploads" / "team-a"
    uploads.mkdir(parents=True)
    (uploads / "mine.csv").write_text("a,y\n1,0\n2,1\n")
    request = request_of(
        data_source_config={"path": "uploads/team-a/mine.csv", "target_column": "y"}
    )
    source, errors = check_source(request, data_client, tenant="team-b", data_roots=[root])
    assert source is None
    assert errors == [
        FieldError("data_source_config.path", "no such file: 'uploads/team-a/mine.csv'")
    ]
    found, none = check_source(request, data_client, tenant="team-a", data_roots=[root])
    assert found is not None
    assert none == []


# -- check_columns ------------------------------------------------------------------------

HEADER = SourceCheck("people.csv", "csv", ["age", "city", "bought"])


def test_columns_present_pass() -> None:
    request = request_of(data_source_config=people(feature_columns=["age", "city"]))
    assert check_columns(request, HEADER) == []


def test_every_missing_column_is_named_with_its_field() -> None:
    request = request_of(
        data_source_config={
            "path": "people.csv",
            "target_column": "churned",
            "feature_columns": ["age", "income", "zip"],
        }
    )
    errors = check_columns(request, HEADER)
    assert [e.field for e in errors] == [
        "data_source_config.feature_columns",
        "data_source_config.feature_columns",
        "data_source_config.target_column",
    ]
    assert "'income'" in errors[0].message
    assert "'zip'" in errors[1].message
    assert "'churned'" in errors[2].message
    assert "columns: age, city, bought" in errors[2].message


def test_a_source_without_a_header_is_not_checked() -> None:
    request = request_of(data_source_config=people(target_column="anything"))
    assert check_columns(request, SourceCheck("https://x/y.csv", "csv", None)) == []


# -- validate_request ---------------------------------------------------------------------


def test_a_good_request_is_validated_with_its_algorithm_source_and_runtime(
    settings: Settings, data_client: LocalDataLayerClient
) -> None:
    request = request_of(
        data_source_config=people(),
        algorithm_config=algorithm("LogisticRegression"),
        resource_config={"max_runtime_seconds": 300},
    )
    validated = validate_request(request, settings=settings, data_client=data_client, tenant="")
    assert validated.request is request
    assert validated.algorithm.name == "LogisticRegression"
    assert validated.source.columns == ["age", "city", "bought"]
    assert validated.max_runtime_seconds == 300


def test_validate_request_reports_every_problem_at_once(
    settings: Settings, data_client: LocalDataLayerClient
) -> None:
    request = request_of(
        data_source_config={"path": "people.csv", "target_column": "churned"},
        algorithm_config=algorithm("RandomForestClassifier", n_estimators=900),
        resource_config={"max_runtime_seconds": 10_000, "memory_limit_mb": 5000},
    )
    with pytest.raises(ConfigurationError) as caught:
        validate_request(request, settings=settings, data_client=data_client, tenant="")
    fields = [e.field for e in caught.value.errors]
    assert fields == [
        "algorithm_config.parameters.n_estimators",
        "resource_config.max_runtime_seconds",
        "resource_config.memory_limit_mb",
        "data_source_config.target_column",
    ]
    for field in fields:
        assert field in caught.value.message


def test_an_unknown_algorithm_and_a_missing_file_are_reported_together(
    settings: Settings, data_client: LocalDataLayerClient
) -> None:
    request = request_of(
        data_source_config={"path": "nowhere.csv", "target_column": "y"},
        algorithm_config=algorithm("NoSuchModel"),
    )
    with pytest.raises(ConfigurationError) as caught:
        validate_request(request, settings=settings, data_client=data_client, tenant="")
    assert [e.field for e in caught.value.errors] == [
        "algorithm_config.name",
        "data_source_config.path",
    ]


def test_a_search_over_the_fit_budget_is_reported_with_the_source_problem(
    settings: Settings, data_client: LocalDataLayerClient
) -> None:
    request = request_of(
        data_source_config={"path": "people.csv", "target_column": "nope"},
        algorithm_config=algorithm("LogisticRegression"),
        hyperparameter_tuning_config=search(
            "random", {"C": {"type": "float", "low": 0.01, "high": 10.0}}, max_trials=11
        ),
    )
    with pytest.raises(ConfigurationError) as caught:
        validate_request(request, settings=settings, data_client=data_client, tenant="")
    errors = {e.field: e.message for e in caught.value.errors}
    assert set(errors) == {
        "hyperparameter_tuning_config.max_trials",
        "data_source_config.target_column",
    }
    assert "33 fits, over the limit of 30" in errors["hyperparameter_tuning_config.max_trials"]
