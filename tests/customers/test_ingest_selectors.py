"""customers.ingest.selectors: the import-job list as a finished read model (labels resolved, no query per row)."""

import pytest
from django.utils import translation

from customers.ingest.selectors import ImportJobRow, import_job_page
from customers.models import ImportJob, ImportStatus

pytestmark = pytest.mark.django_db


def make_job(user, **kw):
    return ImportJob.objects.create(original_name=kw.pop("name", "f.csv"), file="imports/f.csv", uploaded_by=user,
                                    **{"kind": "customers", **kw})


def test_rows_are_labelled_newest_first(world, django_assert_num_queries):
    first = make_job(world.ho_user, name="a.csv", dry_run=True)
    second = make_job(world.ho_user, name="b.csv", kind="holdings", status=ImportStatus.DONE, created=3, rejected=1)
    with translation.override("en"), django_assert_num_queries(2):  # the count and the page, whatever its size
        page = import_job_page()
        rows = list(page.object_list)
    assert [r.pk for r in rows] == [second.pk, first.pk]
    assert rows[0] == ImportJobRow(
        pk=second.pk, created_at=second.created_at, kind_label="Product holdings", original_name="b.csv",
        dry_run=False, uploaded_by=world.ho_user.display_name, status="done", status_label="Done", created=3,
        updated=0, unchanged=0, rejected=1)
    assert rows[1].dry_run and rows[1].kind_label == "Customers" and rows[1].status_label == "Waiting"


def test_pages(world):
    for i in range(3):
        make_job(world.ho_user, name=f"{i}.csv")
    page = import_job_page(page_number=2, per_page=2)
    assert [r.original_name for r in page.object_list] == ["0.csv"]
    assert page.paginator.count == 3
