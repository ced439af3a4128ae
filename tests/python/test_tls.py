"""thread_local in loaded C++ objects: one copy per Python thread."""

from __future__ import annotations

import threading


def test_thread_local_per_thread(objs, session):
    mod = session.load_module(objs["tls_counter"])
    assert mod.tls_next("a") == 100 * 1000 + 1
    assert mod.tls_next("b") == 101 * 1000 + 2

    results: dict[int, list[int]] = {}
    start = threading.Barrier(4)

    def work(i: int) -> None:
        start.wait()  # all four threads hold their copies at once
        results[i] = [mod.tls_next(f"t{i}") for _ in range(3)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert results[i] == [100 * 1000 + 1, 101 * 1000 + 2, 102 * 1000 + 3]
    # The main thread's copy was left alone.
    assert mod.tls_next("c") == 102 * 1000 + 3


def test_thread_local_module_released_after_threads(objs, oj):
    s = oj.ExecutionSession()
    for _ in range(20):
        mod = s.load_module(objs["tls_counter"])
        t = threading.Thread(target=lambda: mod.tls_next("x"))
        t.start()
        t.join()
        assert mod.tls_next("y") == 100 * 1000 + 1
        del mod
