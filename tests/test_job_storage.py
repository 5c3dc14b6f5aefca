"""A search's jobs open the study's storage once per process, and still see every trial the sweeper asks for."""

import os

import optuna

from d2lab.sweeps.optuna_study import job_storage, open_storage


def test_a_process_opens_the_studys_journal_once_and_sees_later_trials(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="search", storage=open_storage(None, tmp_path))  # the sweeper's
    study.ask()
    jobs = job_storage(None, tmp_path)
    assert job_storage(None, tmp_path) is jobs  # no replay of the whole journal for the next trial
    study_id = jobs.get_study_id_from_name("search")
    study.ask()  # asked after the jobs' storage was opened
    assert jobs.get_trial(jobs.get_trial_id_from_study_id_trial_number(study_id, 1)).number == 1

    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # a forked worker opens its own
        os.write(write, b"own" if job_storage(None, tmp_path) is not jobs else b"parent's")
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 16) == b"own"

    (tmp_path / "optuna.journal").unlink()  # a new search into the same folder: a new, shorter journal
    optuna.create_study(study_name="again", storage=open_storage(None, tmp_path))
    assert job_storage(None, tmp_path) is not jobs
    assert job_storage(None, tmp_path).get_study_id_from_name("again") is not None
