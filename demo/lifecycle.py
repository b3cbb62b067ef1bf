"""Lifecycle stages of the demo customers, as indices into :data:`STAGES`, with their money habits."""

import numpy as np

from customers.constants import LifecycleStage

STAGES = [LifecycleStage.PROSPECT, LifecycleStage.DEVELOPMENT, LifecycleStage.GROWTH, LifecycleStage.MATURITY,
          LifecycleStage.DECLINE, LifecycleStage.TERMINATED]
STAGE_P = [0.05, 0.15, 0.22, 0.40, 0.12, 0.06]
# monthly AUM drift (log) per stage: mean, sd
STAGE_DRIFT = np.array([(0.0, 0.02), (0.04, 0.03), (0.06, 0.03), (0.0, 0.015), (-0.07, 0.03), (0.0, 0.0)])
STAGE_TXN = np.array([1.0, 6.0, 12.0, 15.0, 4.0, 0.0])
PROSPECT, DEVELOPMENT, GROWTH, MATURITY, DECLINE, TERMINATED = range(6)
