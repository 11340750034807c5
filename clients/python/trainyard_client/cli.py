"""``trainyard``: the command line for a Trainyard server.

    trainyard submit examples/iris.json          # or a YAML file, or flags
    trainyard watch <job_id>                      # live progress; exit 0 only when completed
    trainyard events <job_id> --follow            # events, trials, log lines as they happen
    trainyard list --status completed             # a table
    trainyard status|cancel|events|trials|logs|evaluation <job_id>
    trainyard download <job_id> -o model.skops
    trainyard predict <job_id> --rows '[{"sepal length (cm)": 5.1, ...}]'

The server is ``--url`` or ``TRAINYARD_URL`` (default http://127.0.0.1:8000); an API key is
``--api-key`` or ``TRAINYARD_API_KEY``, sent as ``Authorization: Bearer``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from trainyard_client.client import TrainyardAPIError, TrainyardClient
from trainyard_client.report_view import print_report

EXIT_OK = 0
EXIT_ERROR = 1  # the request failed, or the watched job failed
EXIT_CANCELLED = 2  # the watched job was cancelled
EXIT_TIMEOUT = 3  # --timeout passed before the job ended
STATUS_STYLE = {
    "pending": "yellow",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}


class UsageError(Exception):
    """Bad command-line input (a file that cannot be read, a malformed flag)."""


# -- input ----------------------------------------------------------------------------------


def load_document(path: str) -> Any:
    """A JSON or YAML document from a file (``-``: standard input)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if path.endswith(".json"):
            return json.loads(text)
        return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.endswith(".json") else "YAML"
        raise UsageError(f"{path} is not valid {kind}: {exc}") from None


def parse_pairs(pairs: Sequence[str], what: str) -> dict[str, Any]:
    """``key=value`` flags; a value that parses as JSON (numbers, true, null, lists) is used
    as such, anything else is a string."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} must look like key=value, not {pair!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def build_request(args: argparse.Namespace) -> dict[str, Any]:
    request: dict[str, Any] = {}
    if args.file:
        loaded = load_document(args.file)
        if not isinstance(loaded, dict):
            raise UsageError(
                f"{args.file} must hold one job (a mapping), not {type(loaded).__name__}"
            )
        request = loaded
    if args.model_name:
        request["model_name"] = args.model_name
    source = dict(request.get("data_source_config") or {})
    if args.data:
        source["path"] = args.data
    if args.target:
        source["target_column"] = args.target
    if source:
        request["data_source_config"] = source
    algorithm = dict(request.get("algorithm_config") or {})
    if args.algorithm:
        algorithm["name"] = args.algorithm
    if args.param:
        algorithm["parameters"] = {
            **(algorithm.get("parameters") or {}),
            **parse_pairs(args.param, "--param"),
        }
    if algorithm:
        request["algorithm_config"] = algorithm
    if args.experiment:
        request["experiment_name"] = args.experiment
    if args.tag:
        request["tags"] = {**(request.get("tags") or {}), **parse_pairs(args.tag, "--tag")}
    if not args.file:
        missing = [
            flag
            for flag, present in (
                ("--model-name", "model_name" in request),
                ("--data", "path" in source),
                ("--target", "target_column" in source),
                ("--algorithm", "name" in algorithm),
            )
            if not present
        ]
        if missing:
            raise UsageError(f"give a job file, or the flags {', '.join(missing)}")
    return request


def load_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.rows is not None:
        try:
            rows = json.loads(args.rows)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--rows is not valid JSON: {exc}") from None
    else:
        path = Path(args.file)
        if path.suffix == ".csv":
            try:
                with path.open(newline="", encoding="utf-8") as handle:
                    rows = [_numbers(row) for row in csv.DictReader(handle)]
            except OSError as exc:
                raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        elif path.suffix == ".jsonl":
            text = path.read_text(encoding="utf-8") if path.exists() else None
            if text is None:
                raise UsageError(f"cannot read {path}: no such file")
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = load_document(args.file)
    if isinstance(rows, dict) and "rows" in rows:
        rows = rows["rows"]
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise UsageError("rows must be a JSON object or a list of objects (column -> value)")
    return rows


def _numbers(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        try:
            out[key] = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            out[key] = None if value == "" else value
    return out


# -- output ---------------------------------------------------------------------------------


def _status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _short_time(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else ""


def metrics_table(metrics: dict[str, float], title: str = "metrics") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in sorted(metrics.items()):
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    return table


def print_job(console: Console, job: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("job", job["job_id"])
    table.add_row("model", f"{job['model_name']} v{job['model_version']} ({job['algorithm']})")
    table.add_row("status", _status_text(job["status"]))
    table.add_row("stage", job["stage"])
    table.add_row("progress", f"{job['progress']:.0f}%")
    if job.get("message"):
        table.add_row("message", escape(job["message"]))
    if job.get("error"):
        error = job["error"]
        text = f"{error['type']} in stage {error.get('stage')}: {error['message']}"
        table.add_row("error", f"[red]{escape(text)}[/]")
    if job.get("experiment_name"):
        table.add_row("experiment", job["experiment_name"])
    if job.get("artifacts_location"):
        table.add_row("artifacts", job["artifacts_location"])
    table.add_row("created", _short_time(job.get("created_at")))
    if job.get("completed_at"):
        table.add_row("completed", _short_time(job["completed_at"]))
    table.add_row("attempt", str(job.get("attempt", 0)))
    console.print(table)
    if job.get("metrics"):
        console.print(metrics_table(job["metrics"]))
    if job.get("best_hyperparameters"):
        console.print("best hyperparameters: " + json.dumps(job["best_hyperparameters"]))


def jobs_table(page: dict[str, Any]) -> Table:
    shown = len(page["items"])
    offset = page.get("offset") or 0
    total = page.get("total")
    title = f"training jobs ({offset + 1 if shown else 0}-{offset + shown}"
    title += f" of {total})" if total is not None else ")"
    table = Table(title=title, title_justify="left")
    for column in ("job id", "model", "version", "algorithm", "status", "stage", "progress"):
        table.add_column(column, justify="right" if column == "progress" else "left")
    table.add_column("score", justify="right")
    table.add_column("created")
    for job in page["items"]:
        metrics = job.get("metrics") or {}
        score = metrics.get("validation_accuracy", metrics.get("validation_r2"))
        table.add_row(
            job["job_id"],
            job["model_name"],
            job["model_version"],
            job["algorithm"],
            _status_text(job["status"]),
            job["stage"],
            f"{job['progress']:.0f}%",
            f"{score:.4f}" if isinstance(score, float) else "",
            _short_time(job.get("created_at")),
        )
    return table


# -- commands -------------------------------------------------------------------------------


def cmd_submit(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    job = client.submit(build_request(args), idempotency_key=args.idempotency_key)
    if args.json:
        console.print_json(data=job)
    elif args.quiet:
        console.print(job["job_id"], highlight=False)
    else:
        console.print(
            f"submitted job [bold]{job['job_id']}[/] ({job['model_name']} "
            f"v{job['model_version']}, {job['algorithm']}): {_status_text(job['status'])}"
        )
    if args.watch:
        return watch(client, job["job_id"], console, interval=0.5, timeout=None)
    return EXIT_OK


def cmd_status(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    job = client.status(args.job_id)
    if args.json:
        console.print_json(data=job)
    else:
        print_job(console, job)
    return EXIT_OK


def cmd_list(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    page = client.list_jobs(
        limit=args.limit,
        offset=args.offset,
        page_token=args.page_token,
        include_total=args.total,
        status=args.status,
        model_name=args.model_name,
        experiment_name=args.experiment,
    )
    if args.json:
        console.print_json(data=page)
        return EXIT_OK
    console.print(jobs_table(page))
    if page.get("next_page_token"):
        token = page["next_page_token"]
        console.print(f"next page: --page-token {token}", highlight=False, soft_wrap=True)
    return EXIT_OK


def cmd_delete(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    client.delete_job(args.job_id)
    if args.json:
        console.print_json(data={"job_id": args.job_id, "deleted": True})
    else:
        console.print(f"job {args.job_id}: deleted", highlight=False)
    return EXIT_OK


def cmd_cancel(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    job = client.cancel(args.job_id)
    if args.json:
        console.print_json(data=job)
    else:
        text = job.get("message") or ""
        console.print(f"job {job['job_id']}: {_status_text(job['status'])} {escape(text)}".rstrip())
    return EXIT_OK


def cmd_events(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    if args.follow:
        return follow_events(client, args.job_id, console, as_json=args.json)
    events = client.events(args.job_id)
    if args.json:
        console.print_json(data=events)
        return EXIT_OK
    table = Table(title=f"events of {args.job_id}", title_justify="left")
    for column in ("time", "status", "stage", "progress", "attempt", "message"):
        table.add_column(column)
    for event in events:
        table.add_row(
            _short_time(event["created_at"]),
            _status_text(event["status"]),
            event["stage"],
            f"{event['progress']:.0f}%",
            str(event["attempt"]),
            escape(event.get("message") or ""),
        )
    console.print(table)
    return EXIT_OK


def follow_events(client: TrainyardClient, job_id: str, console: Console, *, as_json: bool) -> int:
    """Print the job's events, trials and log lines as they happen, until it ends."""
    for frame in client.stream(job_id):
        if as_json:
            sys.stdout.write(json.dumps({"event": frame.event, "id": frame.id, "data": frame.data}))
            sys.stdout.write("\n")
            sys.stdout.flush()
        elif frame.event == "event":
            data = frame.data
            line = f"{_short_time(data['created_at'])} {data['status']} / {data['stage']}"
            console.print(escape(line + (f": {data['message']}" if data.get("message") else "")))
        elif frame.event == "trial":
            score = frame.data.get("mean_score")
            shown = f"{score:.4f}" if score is not None else frame.data["state"]
            console.print(escape(f"trial {frame.data['number']}: {shown} {frame.data['params']}"))
        elif frame.event == "log":
            for text in frame.data["lines"]:
                console.print(escape(text), style="dim", highlight=False)
    return EXIT_OK


def cmd_trials(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    trials = client.trials(args.job_id)
    if args.json:
        console.print_json(data=trials)
        return EXIT_OK
    table = Table(title=f"trials of {args.job_id}", title_justify="left")
    for column in ("#", "state", "score", "std", "seconds", "params"):
        table.add_column(column)
    for trial in trials:
        score = trial.get("mean_score")
        std = trial.get("std_score")
        table.add_row(
            str(trial["number"]),
            trial["state"],
            f"{score:.4f}" if score is not None else "",
            f"{std:.4f}" if std is not None else "",
            f"{trial['duration_seconds']:.2f}",
            json.dumps(trial["params"]),
        )
    console.print(table)
    return EXIT_OK


def cmd_evaluation(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    report = client.evaluation(args.job_id)
    if args.json:
        console.print_json(data=report)
    else:
        print_report(report, console)
    return EXIT_OK


def cmd_logs(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    sys.stdout.write(client.logs(args.job_id, attempt=args.attempt))
    sys.stdout.flush()
    return EXIT_OK


def cmd_watch(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    return watch(client, args.job_id, console, interval=args.interval, timeout=args.timeout)


def _eta_text(eta: float | None) -> str:
    """`` (about 42s left)`` from the status' ``eta_seconds``; nothing when none is known."""
    return "" if eta is None else f" (about {eta:.0f}s left)"


def watch(
    client: TrainyardClient,
    job_id: str,
    console: Console,
    *,
    interval: float,
    timeout: float | None,
) -> int:
    """Show a live progress bar with the stage until the job ends; its exit code."""
    progress = Progress(
        TextColumn("[bold]{task.fields[status]}[/] {task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    last_stage: tuple[str, str] | None = None
    job: dict[str, Any] = {"status": "pending"}
    with progress:
        task = progress.add_task("queued", total=100.0, status="pending")
        try:
            # The job's event stream (a dropped connection resumes where it stopped), or
            # polling every ``interval`` against an older server.
            for job in client.updates(job_id, timeout=timeout, poll_interval=interval):
                stage = (job["status"], job["stage"])
                if stage != last_stage:
                    line = f"{_short_time(job['updated_at'])} {job['status']} / {job['stage']}"
                    progress.console.print(
                        escape(line + (f": {job['message']}" if job.get("message") else ""))
                    )
                    last_stage = stage
                progress.update(
                    task,
                    completed=float(job["progress"]),
                    description=job["stage"] + _eta_text(job.get("eta_seconds")),
                    status=job["status"],
                )
        except TimeoutError:
            progress.stop()
            console.print(f"[yellow]job {job_id} is still {job['status']} after {timeout}s[/]")
            return EXIT_TIMEOUT
    if job.get("metrics"):
        console.print(metrics_table(job["metrics"]))
    if job.get("best_hyperparameters"):
        console.print("best hyperparameters: " + json.dumps(job["best_hyperparameters"]))
    if job["status"] == "completed":
        console.print(f"[green]job {job_id} completed[/]: {escape(job.get('message') or '')}")
        return EXIT_OK
    error = job.get("error") or {}
    detail = (
        f"{error.get('type')} in stage {error.get('stage')}: {error.get('message')}"
        if error
        else job.get("message") or ""
    )
    console.print(f"[red]job {job_id} {job['status']}[/]: {escape(detail)}")
    return EXIT_CANCELLED if job["status"] == "cancelled" else EXIT_ERROR


def cmd_download(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    destination = Path(args.output or f"{args.job_id}.skops")
    partial = destination.with_name(destination.name + ".part")
    try:
        size = client.download_model(args.job_id, partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(destination)
    console.print(f"saved the model of {args.job_id} to {destination} ({size} bytes)")
    return EXIT_OK


def cmd_predict(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    result = client.predict(args.job_id, load_rows(args))
    console.print_json(data=result)
    return EXIT_OK


def cmd_algorithms(client: TrainyardClient, args: argparse.Namespace, console: Console) -> int:
    if args.name:
        info = client.algorithm(args.name)
        if args.json:
            console.print_json(data=info)
            return EXIT_OK
        table = Table(
            title=f"{info['name']} ({info['framework']}, {info['task']})", title_justify="left"
        )
        for column in ("parameter", "default", "types", "constraints"):
            table.add_column(column)
        for parameter in info["parameters"]:
            table.add_row(
                parameter["name"],
                json.dumps(parameter["default"]),
                ", ".join(parameter["types"]),
                "; ".join(parameter["constraints"]),
            )
        console.print(table)
        return EXIT_OK
    listing = client.algorithms(task=args.task)
    if args.json:
        console.print_json(data=listing)
        return EXIT_OK
    table = Table(title=f"algorithms ({listing['total']})", title_justify="left")
    for column in ("name", "task", "framework", "parameters"):
        table.add_column(column)
    for item in listing["items"]:
        table.add_row(item["name"], item["task"], item["framework"], str(len(item["parameters"])))
    console.print(table)
    return EXIT_OK


# -- the parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trainyard", description="Submit and follow training jobs on a Trainyard server."
    )
    # The connection options work before or after the command: `trainyard list --url ...`.
    connection = argparse.ArgumentParser(add_help=False)
    for parser_ in (parser, connection):
        default = None if parser_ is parser else argparse.SUPPRESS
        parser_.add_argument(
            "--url", default=default, help="server URL (env TRAINYARD_URL; http://127.0.0.1:8000)"
        )
        parser_.add_argument(
            "--api-key",
            default=default,
            help="API key sent as a bearer token (env TRAINYARD_API_KEY)",
        )
    parser.add_argument(
        "--http-timeout",
        dest="http_timeout",
        type=float,
        default=30.0,
        help="seconds to wait for each HTTP answer (30)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, handler: Any, *, json_flag: bool = True) -> Any:
        sub = commands.add_parser(name, help=help_text, description=help_text, parents=[connection])
        sub.set_defaults(handler=handler)
        if json_flag:
            sub.add_argument("--json", action="store_true", help="print the raw JSON")
        return sub

    submit = command("submit", "submit a training job from a JSON/YAML file or flags", cmd_submit)
    submit.add_argument("file", nargs="?", help="job file (.json, .yaml; - for stdin)")
    submit.add_argument("--model-name")
    submit.add_argument("--data", help="data_source_config.path, e.g. sklearn://iris")
    submit.add_argument("--target", help="data_source_config.target_column")
    submit.add_argument("--algorithm", help="algorithm_config.name, e.g. RandomForestClassifier")
    submit.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an estimator parameter (repeatable); JSON values are parsed",
    )
    submit.add_argument("--experiment", help="experiment_name")
    submit.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    submit.add_argument("--idempotency-key")
    submit.add_argument("-q", "--quiet", action="store_true", help="print only the job id")
    submit.add_argument("--watch", action="store_true", help="then watch it to the end")

    for name, help_text, handler in (
        ("status", "show where a job stands", cmd_status),
        ("cancel", "cancel a pending or running job", cmd_cancel),
        ("delete", "delete a finished job: its record, events, trials, model, logs", cmd_delete),
        ("events", "list a job's status and stage transitions", cmd_events),
        ("trials", "list a job's hyperparameter-search trials", cmd_trials),
        ("evaluation", "show a completed job's evaluation report", cmd_evaluation),
    ):
        job_command = command(name, help_text, handler)
        job_command.add_argument("job_id")
        if name == "events":
            job_command.add_argument(
                "--follow",
                "-f",
                action="store_true",
                help="stream events, trials and log lines as they happen, until the job ends",
            )

    listing = command("list", "list jobs, newest first, as a table", cmd_list)
    listing.add_argument("--status", choices=sorted(STATUS_STYLE))
    listing.add_argument("--model-name")
    listing.add_argument("--experiment")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--page-token", help="the next page: the token the previous page printed")
    listing.add_argument("--total", action="store_true", help="count all matching jobs too")

    watch_cmd = command(
        "watch",
        "follow a job with a progress bar until it ends (exit 0 only when it completed)",
        cmd_watch,
        json_flag=False,
    )
    watch_cmd.add_argument("job_id")
    watch_cmd.add_argument("--interval", type=float, default=0.5, help="seconds between polls")
    watch_cmd.add_argument("--timeout", type=float, default=None, help="give up after seconds")

    logs = command("logs", "print the training processes' logs of a job", cmd_logs, json_flag=False)
    logs.add_argument("job_id")
    logs.add_argument("--attempt", type=int)

    download = command(
        "download", "download the trained model (skops file)", cmd_download, json_flag=False
    )
    download.add_argument("job_id")
    download.add_argument("-o", "--output", help="file to write (<job_id>.skops)")

    predict = command(
        "predict", "predict with a job's model on raw rows", cmd_predict, json_flag=False
    )
    predict.add_argument("job_id")
    rows = predict.add_mutually_exclusive_group(required=True)
    rows.add_argument("--rows", help='JSON: [{"column": value, ...}, ...]')
    rows.add_argument("--file", help="rows from a .json, .jsonl, .yaml or .csv file")

    algorithms = command("algorithms", "list the estimators, or describe one", cmd_algorithms)
    algorithms.add_argument("name", nargs="?")
    algorithms.add_argument("--task", choices=["classification", "regression"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Piped output gets wide lines, so tables keep whole job ids for grep and scripts.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    errors = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)
    try:
        with TrainyardClient(args.url, api_key=args.api_key, timeout=args.http_timeout) as client:
            code: int = args.handler(client, args, console)
            return code
    except UsageError as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}")
        return EXIT_ERROR
    except TrainyardAPIError as exc:
        errors.print(f"[red]error:[/] HTTP {exc.status_code}: {escape(exc.detail)}")
        for error in exc.field_errors:
            errors.print(escape(f"  {error.get('field')}: {error.get('message')}"))
        return EXIT_ERROR
    except httpx.HTTPError as exc:
        errors.print(f"[red]error:[/] cannot reach the server: {escape(str(exc))}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
