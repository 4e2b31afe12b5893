"""The cluster report and the province roll-up on the sample province: what they say, in vi
and en, from the check book's stored rows (as the scheduled checks keep them) or computed from
the readings — the same figures either way."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from collector.checkbook import CheckBook
from collector.partition import Partition
from collector.payload import Reading, parse_message
from collector.schedule import CheckScheduler
from collector.store import MemoryStore
from quantrac.config import Config, load_config
from quantrac.rollup import Sources, cluster_report, province_report
from reports.cluster import ClusterReport
from reports.html import render_cluster_html, render_province_html
from reports.output import write_cluster_report, write_province_report
from reports.province import ProvinceReport
from rules.cluster import ClusterLayout
from rules.collection import cluster_ledger
from rules.permit import Plant
from simulator.run import SimulateOptions, generate

PROVINCE = Path(__file__).parents[2] / "deploy/etc/quantrac/province.toml"
SCENARIOS = {"kim-bai": "illegal-discharge", "mau-b": "no-central-plant", "mau-c": "normal"}


class Province:
    """The sample province, two simulated days (1-2 Oct 2026), its check book filled by the
    scheduler's daily jobs; `now` is the start of 3 Oct (both days closed)."""

    def __init__(self, state: Path) -> None:
        self.config: Config = load_config(PROVINCE)
        self.layouts = self.config.layouts()
        zone = self.layouts[0].zone
        self.start = datetime(2026, 10, 1, tzinfo=zone)
        self.now = self.start + timedelta(days=2)
        self.store = MemoryStore()
        for layout in self.layouts:
            options = SimulateOptions(cluster=layout.id, scenario=SCENARIOS[layout.id],
                                      start=self.start, duration=timedelta(days=2),
                                      backfill=True, seed=7)
            self.store.write([r for m in generate(self.config.plants, options,
                                                  clusters=self.layouts)
                              for r in parse_message(m.topic, m.payload)])
        self.book = CheckBook(state)
        clock = [self.start]
        scheduler = CheckScheduler(self.config.plants, self.config.checks, self.book,
                                   self.load, sink=lambda *_: None, clock=lambda: clock[0],
                                   clusters=self.layouts)
        for day in (1, 2):
            clock[0] = self.start + timedelta(days=day, minutes=6)
            for plant in self.config.plants:
                scheduler.run_daily(plant)
            for cluster in scheduler.clusters:
                scheduler.run_daily_cluster(cluster)

    def load(self, plant: Plant, start: datetime, end: datetime) -> pd.DataFrame:
        return self.store.read_frame(plant.id, start, end)

    def layout(self, cluster: str) -> ClusterLayout:
        return next(c for c in self.layouts if c.id == cluster)

    def province(self, lang: str = "vi", book: bool = True,
                 partition: Partition | None = None) -> ProvinceReport:
        sources = Sources(self.store, self.book if book else None, partition or Partition())
        return province_report(self.config, "2026-10", sources, lang, self.now)

    def cluster(self, cluster: str, lang: str = "vi") -> ClusterReport:
        return cluster_report(self.config, self.layout(cluster), self.start, self.now,
                              self.load, lang, self.now)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Province]:
    sample = Province(tmp_path_factory.mktemp("state"))
    yield sample
    sample.book.close()


def test_the_cluster_report_says_what_the_ledger_says(province: Province) -> None:
    report = province.cluster("kim-bai")
    frames = {p.id: province.load(p, province.start, province.now)
              for p in province.layout("kim-bai").plants}
    ledger = cluster_ledger(province.layout("kim-bai"), frames, province.config.checks,
                            province.start, province.now, province.now)
    assert [r.to_json() for r in report.days] == [r.to_json() for r in ledger.rows
                                                  if len(r.date) == 10]
    # 40 % of kb-nhuom-mau never arrives: both days miss the target; two days are no month.
    assert [r.target_met for r in report.days] == [False, False]
    assert report.verdict_status == "not_judged"
    assert "kỳ báo cáo không trọn một tháng" in report.verdict
    assert [f.basis for f in report.collection_findings].count("day") == 2
    # The note names the factory, in Vietnamese.
    note = report.note_of(report.collection_findings[-1])
    assert "kb-nhuom-mau" in note and "không về đến trạm" in note
    members = {m.id: m for m in report.members}
    assert members["kb-nhuom-mau"].metered and members["kb-nhuom-mau"].standing is not None
    assert members["kb-may-mau"].standing is None  # declared: judged by declaration
    assert members["kb-may-mau"].discharged_m3 == pytest.approx(2 * 150.0)
    assert members["kb-go-mau"].connection == "own_treatment"


def test_a_connected_factory_is_judged_by_the_connection_rules_not_qcvn(province) -> None:
    report = province.cluster("kim-bai")
    factory = next(m for m in report.members if m.id == "kb-nhuom-mau").standing
    assert factory is not None
    assert factory.judged_by == "Quy định đấu nối của cụm công nghiệp"
    assert report.central is not None and report.central.judged_by.startswith(
        "QCVN 40:2011/BTNMT cột B × Kq 0,9")
    html = render_cluster_html(report)
    assert "Quy định đấu nối của cụm công nghiệp" in html
    english = province.cluster("kim-bai", "en")
    assert next(m for m in english.members if m.id == "kb-nhuom-mau").standing.judged_by \
        == "The cluster's connection rules"  # type: ignore[union-attr]


def test_the_cluster_reports_files_and_hash(province: Province, tmp_path: Path) -> None:
    report = province.cluster("mau-c", "en")
    paths = write_cluster_report(report, ["html", "pdf", "csv"], tmp_path)
    names = sorted(p.name for p in paths)
    assert names == [f"cluster_mau-c_20261001-20261002_{n}" for n in (
        "data.csv", "en.html", "en.pdf", "findings.csv", "ledger.csv", "members.csv")]
    data = (tmp_path / "cluster_mau-c_20261001-20261002_data.csv").read_bytes()
    assert hashlib.sha256(data).hexdigest() == report.provenance.data_sha256
    plants = {row["plant"] for row in csv.DictReader(io.StringIO(data.decode()))}
    assert plants == {"mau-c", "mc-det-mau"}  # every station of the cluster is hashed
    ledger = list(csv.DictReader(io.StringIO(
        (tmp_path / "cluster_mau-c_20261001-20261002_ledger.csv").read_text())))
    assert [r["date"] for r in ledger] == ["2026-10-01", "2026-10-02", "2026-10"]
    findings = (tmp_path / "cluster_mau-c_20261001-20261002_findings.csv").read_text()
    assert "not connected: mc-da-mau" in findings  # the English note, as check --json
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(paths[1]), "-"], check=True,
                              capture_output=True, text=True).stdout
        assert "Cụm công nghiệp mẫu C" in text and "Not connected" in text


def test_the_province_reads_the_stored_rows_and_they_equal_the_computed(province) -> None:
    stored = province.province()
    computed = province.province(book=False)
    assert {c.source for c in stored.clusters} == {"stored"}
    assert {c.source for c in computed.clusters} == {"computed"}
    for a, b in zip(stored.clusters, computed.clusters, strict=True):
        assert a.month is not None and b.month is not None
        for name in ("generated_m3", "collected_m3", "collection_ratio", "treatment_ratio"):
            assert getattr(a.month, name) == pytest.approx(getattr(b.month, name)), name
        assert a.compliance == b.compliance, a.layout.id
        assert len(a.collection_findings) == len(b.collection_findings)
    assert asdict(stored.totals) == pytest.approx(asdict(computed.totals))
    assert any("Tính lại từ số liệu" in n for n in computed.notes)
    assert not any("Tính lại từ số liệu" in n for n in stored.notes)


def test_the_province_totals_and_words(province: Province, tmp_path: Path) -> None:
    report = province.province("en")
    totals = report.totals
    assert (totals.clusters, totals.with_central, totals.monitored) == (3, 2, 3)
    assert totals.reporting == 3  # all stations sent every record in the last 24 h
    assert totals.judged == 0  # October is not over: the month so far is not judged
    html = render_province_html(report)
    assert "2 of 3 industrial clusters have a central WWTP" in html
    assert html.count("month so far") >= 3
    vi = render_province_html(province.province("vi"))
    assert "2 trên 3 cụm công nghiệp có trạm XLNT tập trung" in vi
    paths = write_province_report(report, ["csv"], tmp_path)
    data = next(p for p in paths if p.name == "province_2026-10_data.csv").read_bytes()
    assert hashlib.sha256(data).hexdigest() == report.provenance.data_sha256
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [r["date"] for r in rows if r["cluster"] == "mau-b"] == [
        "2026-10", "2026-10-01", "2026-10-02"]


def test_a_plant_silent_in_the_window_is_not_reporting(province: Province) -> None:
    report = province.province()
    assert report.reporting_to == province.now  # the month runs: the last 24 h before now
    # A store whose mau-c plant fell silent in the afternoon of 2 Oct.
    cut = province.start + timedelta(days=1, hours=14)
    silent = MemoryStore([r for p in province.config.plants
                          for r in _readings(province, p) if p.id != "mau-c" or r.ts < cut])
    sources = Sources(silent, province.book, Partition())
    mau_c = next(c for c in province_report(province.config, "2026-10", sources, "vi",
                                            province.now).clusters if c.layout.id == "mau-c")
    assert (mau_c.reporting_count, len(mau_c.reporting), mau_c.all_reporting) == (1, 2, False)


def test_clusters_this_instance_does_not_own_are_computed(province: Province) -> None:
    other = next(i for i in range(2) if not Partition(i, 2).owns("kim-bai"))
    report = province.province(partition=Partition(other, 2))
    sources = {c.layout.id: c.source for c in report.clusters}
    assert sources["kim-bai"] == "computed"


def _readings(province: Province, plant: Plant) -> list[Reading]:
    """A plant's stored readings back as readings (for another store or a CSV)."""
    frame = province.store.read_frame(plant.id, province.start, province.now)
    keys = [c for c in frame.columns if c not in ("time", "plant", "station")
            and not c.endswith("_status")]
    out = []
    for row in frame.itertuples(index=False):
        values = {k: getattr(row, k) for k in keys if pd.notna(getattr(row, k))}
        out.append(Reading(plant.cluster, plant.id, row.station, row.time.to_pydatetime(),
                           values))
    return out


def test_report_cluster_from_the_command_line(province: Province, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`quantrac report --cluster ID --month --csv`: the month so far of the offline data."""
    from quantrac.cli import main
    from tests.collector.test_memory_store import write_csv

    data = tmp_path / "month.csv"
    write_csv(data, [r for p in province.config.plants for r in _readings(province, p)])
    config = tmp_path / "province.toml"
    config.write_text(PROVINCE.read_text(encoding="utf-8").replace(
        'dir = ".quantrac"', f'dir = "{tmp_path / "state"}"'), encoding="utf-8")
    code = main(["report", "--config", str(config), "--cluster", "mau-b", "--month", "2026-10",
                 "--csv", str(data), "--format", "csv", "--lang", "en", "--out",
                 str(tmp_path / "out")])
    out = capsys.readouterr().out.split()
    assert code == 0 and len(out) == 4
    text = (tmp_path / "out" / "cluster_mau-b_2026-10_ledger.csv").read_text(encoding="utf-8")
    ledger = list(csv.DictReader(io.StringIO(text)))
    rows = {r["date"]: (r["collection_ratio"], r["target_met"]) for r in ledger}
    # No central WWTP: nothing is collected; the days after the data still generate the
    # declared paper mill's water (a not-connected member: a shortfall each whole day).
    assert rows["2026-10-01"] == rows["2026-10-02"] == ("0.0", "False")
    assert rows["2026-10-03"] == ("", "False")
    assert rows["2026-10"][0] == "0.0" and list(rows)[-1] == "2026-10"
