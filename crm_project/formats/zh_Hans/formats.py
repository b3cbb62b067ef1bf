# Django's zh_Hans formats set no digit grouping; money in a bank reads 1,234,567.89.
from django.conf.locale.zh_Hans.formats import *

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
