"""`recourse`: replay scenarios, run one case and show its timeline, verify the audit chain."""
from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from cli.timeline import print_timeline
from evals.loader import ScenarioError, load_directory, load_scenario
from evals.report import summarise
from evals.runner import run_scenarios

app = typer.Typer(help="Recourse: autonomous handling of logistics exceptions.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
console = Console(soft_wrap=True)


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


@app.command("eval")
def eval_command(
    directory: Path = typer.Argument(..., help="A directory of scenario files (FORMAT.md, version 1)."),
    runs: int = typer.Option(1, "--runs", "-k", min=1, max=100, help="Repeat every scenario K times; reports pass^k."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the report as JSON to this path."),
) -> None:
    """Replay every scenario against the simulated backend and grade the observable result."""
    try:
        scenarios = load_directory(directory)
    except ScenarioError as exc:
        _fail(str(exc))
    with Progress(TextColumn("[bold]eval[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task(directory.name, total=len(scenarios) * runs)
        results = asyncio.run(run_scenarios(scenarios, runs, on_result=lambda _: progress.advance(task)))
    report = summarise(results, runs)
    _print_report(report)
    if json_path:
        json_path.write_text(json.dumps(report, indent=2))
        console.print(f"JSON report written to {json_path}")
    if report["passed"] != report["scenarios"] or report["policy_violations"] or report["duplicate_effects"]:
        raise typer.Exit(1)


def _print_report(report: dict) -> None:
    table = Table(title="Scenarios", show_lines=False)
    for column in ("scenario", "result", "outcome", "runs", "why not"):
        table.add_column(column, overflow="fold")
    for row in report["results"]:
        mark = "[green]pass[/green]" if row["passed"] else "[red]FAIL[/red]"
        table.add_row(row["id"], mark, str(row["outcome"]), f"{row['runs_passed']}/{report['runs']}",
                      "; ".join(row["reasons"]))
    console.print(table)
    hats = "  ".join(f"pass^{k}={v:.3f}" for k, v in report["pass_hat_k"].items())
    console.print(f"[bold]{report['passed']}/{report['scenarios']} passed[/bold] (pass rate {report['pass_rate']:.3f})  {hats}  "
                  f"policy violations={report['policy_violations']}  duplicate effects={report['duplicate_effects']}")


@app.command("run")
def run_command(
    scenario_file: Path = typer.Argument(..., help="One scenario file: its world seeds the simulator, its event is submitted."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Where the case, audit and checkpoints are kept."),
) -> None:
    """Run one exception through the graph and print its timeline."""
    from evals.runner import observe_case

    try:
        scenario = load_scenario(scenario_file)
    except ScenarioError as exc:
        _fail(str(exc))
    target = data_dir or Path(tempfile.mkdtemp(prefix="recourse-run-"))
    final, audit = asyncio.run(observe_case(scenario, target))
    print_timeline(console, final, audit)
    console.print(f"data: {target}  (verify with: recourse audit verify --data-dir {target})", highlight=False)


@app.command("prune")
def prune(data_dir: Path = typer.Option(Path(".recourse"), "--data-dir", help="The data directory to compact.")) -> None:
    """Delete finished cases' checkpoints (their final state and audit trail stay), then compact the file."""
    from graph.cases import open_case_service
    from graph.checkpoint import compact

    checkpoints = data_dir / "checkpoints.db"
    if not checkpoints.exists():
        _fail(f"--data-dir: no checkpoint database at {checkpoints}")

    async def run() -> tuple[int, int, int]:
        before = checkpoints.stat().st_size
        async with open_case_service(_NoBackend(), data_dir, sleep=asyncio.sleep) as service:
            pruned = await service.prune_finished()
        await compact(str(checkpoints))
        return pruned, before, checkpoints.stat().st_size

    pruned, before, after = asyncio.run(run())
    console.print(f"pruned {pruned} finished case(s); checkpoints {before:,} -> {after:,} bytes")


class _NoBackend:
    """Pruning reads and writes only the store and the checkpoints, never the operations systems."""


def _audit_report(data_dir: Path, expect: tuple[int, str] | None = None):
    from store import Store

    db = data_dir / "recourse.db"
    if not db.exists():
        _fail(f"--data-dir: no audit database at {db}")

    async def check():
        store = Store(f"sqlite+aiosqlite:///{db}")
        try:
            return await store.verify_audit(expect)
        finally:
            await store.close()

    return asyncio.run(check())


@audit_app.command("verify")
def audit_verify(
    data_dir: Path = typer.Option(Path(".recourse"), "--data-dir", help="The data directory to check."),
    expect_head: str | None = typer.Option(None, "--expect-head", help="A head exported earlier with `recourse audit head`."),
    expect_entries: int | None = typer.Option(None, "--expect-entries", help="The entry count exported with that head."),
) -> None:
    """Recompute the audit hash chain; exits 1 if any entry was edited, deleted or reordered, or if an
    exported head is no longer in the chain (a truncated or rewritten tail)."""
    if (expect_head is None) != (expect_entries is None):
        _fail("--expect-head and --expect-entries go together")
    report = _audit_report(data_dir, (expect_entries, expect_head) if expect_head else None)
    if report.ok:
        console.print(f"[green]audit chain intact[/green]: {report.entries} entries, head {report.head}")
        return
    console.print(f"[red]audit chain broken[/red] after {report.entries} good entries: {report.problem}")
    raise typer.Exit(1)


@audit_app.command("head")
def audit_head(data_dir: Path = typer.Option(Path(".recourse"), "--data-dir")) -> None:
    """Print the chain's entry count and head hash as JSON, to keep elsewhere and check later."""
    report = _audit_report(data_dir)
    if not report.ok:
        console.print(f"[red]audit chain broken[/red]: {report.problem}")
        raise typer.Exit(1)
    typer.echo(json.dumps({"entries": report.entries, "head": report.head}))


def _switch(pause: bool, intent: str | None, data_dir: Path | None) -> None:
    from graph.cases import open_case_service
    from settings import Settings

    intents = ("reassign_driver", "reschedule_pickup", "notify_customer", "issue_credit", "cancel_pickup")
    if intent is not None and intent not in intents:
        _fail(f"--intent: {intent!r} is not one of {', '.join(intents)}")
    directory = data_dir or Settings().data_dir

    async def run():
        async with open_case_service(_NoBackend(), directory, sleep=asyncio.sleep) as service:
            return await service.set_pause(pause, by=f"cli:{os.environ.get('USER', 'unknown')}", intent=intent)

    controls = asyncio.run(run())
    state = "everything paused" if controls["paused"] else (
        f"paused: {', '.join(controls['paused_intents'])}" if controls["paused_intents"] else "nothing paused")
    console.print(state)


@app.command("pause")
def pause(intent: str | None = typer.Option(None, "--intent", help="Pause one action tool only."),
          data_dir: Path | None = typer.Option(None, "--data-dir")) -> None:
    """Stop new side effects at once, across every worker on this data directory (audited)."""
    _switch(True, intent, data_dir)


@app.command("resume")
def resume(intent: str | None = typer.Option(None, "--intent", help="Resume one action tool only."),
           data_dir: Path | None = typer.Option(None, "--data-dir")) -> None:
    """Lift the pause; holding cases continue from where they stopped."""
    _switch(False, intent, data_dir)


report_app = typer.Typer(help="Reports over the cases in a data directory.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("shadow")
def report_shadow(data_dir: Path | None = typer.Option(None, "--data-dir"),
                  ops_url: str | None = typer.Option(None, "--ops-url", help="The system of record, if not the simulator in --data-dir.")) -> None:
    """Compare what shadow-mode cases would have done with what was actually done, and the agreement rate."""
    from app import operations_backend
    from evals.shadow_report import shadow_report
    from store import Store

    settings = _settings(data_dir=data_dir, ops_url=ops_url)
    db = settings.data_dir / "recourse.db"
    if not db.exists():
        _fail(f"--data-dir: no cases at {db}")

    async def run():
        store = Store(f"sqlite+aiosqlite:///{db}")
        try:
            return await shadow_report(store, operations_backend(settings))
        finally:
            await store.close()

    rows = asyncio.run(run())
    table = Table(title="Shadow mode: would have done vs actually done")
    for column in ("case", "pickup", "would be", "would do", "actually done", "agree"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.case_id, row.pickup_id, row.would_be, ", ".join(row.would_do) or "-",
                      ", ".join(row.actually_did) or "-", "[green]yes[/green]" if row.agrees else "[red]no[/red]")
    console.print(table)
    agreed = sum(r.agrees for r in rows)
    console.print(f"agreement: {agreed}/{len(rows)}" + (f" ({agreed / len(rows):.0%})" if rows else ""))


llm_app = typer.Typer(help="A local LLM (llama.cpp llama-server) for offline use.", no_args_is_help=True)
app.add_typer(llm_app, name="llm")


@llm_app.command("serve")
def llm_serve(port: int = typer.Option(8081, "--port"), log: Path | None = typer.Option(None, "--log")) -> None:
    """Start llama-server on 127.0.0.1 with SmolLM2-135M-Instruct (extra `[local-llm]`); Ctrl-C stops it."""
    from agents.local_llm import SMOLLM2, model_file, start_server, stop_server
    from settings import get_settings

    try:
        url, process = start_server(model_file(cache_dir=get_settings().data_dir / "models"), port=port, log=log)
    except RuntimeError as exc:
        _fail(str(exc))
    console.print(f"ready: RECOURSE_LLM_BASE_URL={url} RECOURSE_LLM_MODEL={SMOLLM2.alias}")
    try:
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(process)


policy_app = typer.Typer(help="Policy versions.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("diff")
def policy_diff(
    old: str = typer.Argument(..., help="The current policies: a directory or a git revision (e.g. HEAD)."),
    new: str = typer.Argument(..., help="The proposed policies: a directory or a git revision."),
    scenarios: Path = typer.Option(Path("evals/scenarios"), "--scenarios", help="Scenarios to replay under both."),
) -> None:
    """List every gate decision (and outcome) that changes between two policy versions."""
    from evals.policy_diff import diff, materialise
    from guardrails.policy_files import PolicySet

    try:
        loaded = load_directory(scenarios)
    except ScenarioError as exc:
        _fail(f"--scenarios: {exc}")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            old_set = PolicySet(materialise(old, Path(tmp) / "old"))
            new_set = PolicySet(materialise(new, Path(tmp) / "new"))
            console.print(f"policies {old_set.revision} -> {new_set.revision}, {len(loaded)} scenarios")
            changes = asyncio.run(diff(old_set, new_set, loaded))
        except ValueError as exc:
            _fail(str(exc))
    for change in changes:
        console.print(f"{change.scenario_id}: {change.what}", highlight=False)
    affected = sorted({c.scenario_id for c in changes})
    console.print(f"{len(changes)} changed decision(s) in {len(affected)} scenario(s)")


keys_app = typer.Typer(help="API keys for the service.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _settings(**options):
    from settings import Settings

    return Settings(**{k: v for k, v in options.items() if v is not None})


def _check_world(settings) -> None:
    from tools.sim.persist import PersistentSimulatedBackend

    if settings.world is not None and not settings.world.exists():
        _fail(f"--world: no such file {settings.world}")
    if settings.world is None and not PersistentSimulatedBackend.exists(settings.data_dir):
        _fail(f"--world: no simulator state in {settings.data_dir}; give a scenario file to seed it")


@app.command("serve")
def serve(
    world: Path | None = typer.Option(None, "--world", help="Scenario file whose world (and faults) seed the simulator."),
    ops_url: str | None = typer.Option(None, "--ops-url", help="Operations backend over HTTP instead of the in-process simulator."),
    host: str | None = typer.Option(None, "--host"),
    port: int | None = typer.Option(None, "--port"),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
    workers: int | None = typer.Option(None, "--workers", help="Cases run concurrently in this process (0: leave them to `recourse worker`)."),
) -> None:
    """Run the HTTP service (uvicorn)."""
    import uvicorn

    from app import create_app

    settings = _settings(world=world, ops_url=ops_url, host=host, port=port, data_dir=data_dir, workers=workers)
    if not settings.ops_url:
        _check_world(settings)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


@app.command("worker")
def worker(
    ops_url: str | None = typer.Option(None, "--ops-url", help="The operations backend (required: a shared system of record)."),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
    workers: int | None = typer.Option(None, "--workers", help="Cases run concurrently in this process."),
) -> None:
    """Run cases that the API admitted, in a process of their own (claims with leases; several may run)."""
    from service.work import run_worker_process

    settings = _settings(ops_url=ops_url, data_dir=data_dir, workers=workers)
    if not settings.ops_url:
        _fail("--ops-url: a separate worker needs the operations backend as a service (start `recourse sim serve`)")
    asyncio.run(run_worker_process(settings))


sim_app = typer.Typer(help="The simulated operations backend.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")


@sim_app.command("serve")
def sim_serve(
    world: Path | None = typer.Option(None, "--world", help="Scenario file whose world (and faults) seed it."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8090, "--port"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Where its state and journal are kept."),
) -> None:
    """Serve the simulator over HTTP so several Recourse processes share one system of record."""
    import uvicorn

    from app import simulator_for
    from tools.sim.server import create_sim_app

    settings = _settings(world=world, data_dir=data_dir)
    _check_world(settings)
    uvicorn.run(create_sim_app(simulator_for(settings)), host=host, port=port, log_level="warning")


@keys_app.command("create")
def keys_create(
    role: str = typer.Option(..., "--role", help="submitter | dispatcher | admin"),
    label: str = typer.Option("", "--label", help="Who or what holds the key."),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    from service.keys import Role, create_key
    from settings import Settings
    from store import Store

    try:
        chosen = Role(role)
    except ValueError:
        _fail(f"--role: {role!r} is not one of submitter, dispatcher, admin")
    settings = Settings()
    directory = data_dir or settings.data_dir
    directory.mkdir(parents=True, exist_ok=True)

    async def make() -> str:
        store = await Store.open(settings.database_url or f"sqlite+aiosqlite:///{directory / 'recourse.db'}")
        try:
            return await create_key(store, chosen, label)
        finally:
            await store.close()

    typer.echo(asyncio.run(make()))
