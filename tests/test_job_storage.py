"""A search's jobs open the study's journal once per process, and still see every trial the sweeper asks for."""

import os

import optuna
import pytest

from d2lab.sweeps.optuna_study import job_storage, open_storage


@pytest.fixture(autouse=True)
def quiet_optuna():
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def in_forked_child(check) -> bool:
    """`check()` run in a forked child, as the parallel launcher's workers run jobs."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.write(write, b"1" if check() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return os.read(read, 1) == b"1"


def test_a_process_opens_the_studys_journal_once_and_sees_later_trials(tmp_path):
    study = optuna.create_study(study_name="search", storage=open_storage(None, tmp_path))  # the sweeper's
    study.ask()
    jobs = job_storage(None, tmp_path)
    assert job_storage(None, tmp_path) is jobs  # no replay of the whole journal for the next trial
    study_id = jobs.get_study_id_from_name("search")
    later = study.ask()  # asked, then reported to and told, after the jobs' storage was opened
    later.report(0.5, step=0)
    study.tell(later, 0.25)
    seen = jobs.get_trial(jobs.get_trial_id_from_study_id_trial_number(study_id, 1))
    assert seen.intermediate_values == {0: 0.5} and seen.value == 0.25
    assert in_forked_child(lambda: job_storage(None, tmp_path) is not jobs)  # a forked worker opens its own


@pytest.mark.parametrize("trials_before", [1, 6])
def test_a_new_journal_in_the_same_folder_is_opened_anew(tmp_path, trials_before):
    first = optuna.create_study(study_name="first", storage=open_storage(None, tmp_path))
    for _ in range(trials_before):
        first.ask()
    jobs = job_storage(None, tmp_path)
    (tmp_path / "optuna.journal").unlink()  # a new search into the same folder, its journal longer or shorter
    second = optuna.create_study(study_name="second", storage=open_storage(None, tmp_path))
    for _ in range(3):
        second.ask()
    reopened = job_storage(None, tmp_path)
    assert reopened is not jobs
    assert [t.number for t in reopened.get_all_trials(reopened.get_study_id_from_name("second"))] == [0, 1, 2]
    with pytest.raises(KeyError):
        reopened.get_study_id_from_name("first")


def test_a_database_is_opened_for_each_job(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="search", storage=open_storage(url, tmp_path))
    assert job_storage(url, tmp_path) is not job_storage(url, tmp_path)
