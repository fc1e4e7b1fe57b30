// The globals the dashboard's page gives its script: uPlot, loaded by a <script> tag before it.
import type uPlotType from 'uplot';

declare global {
  const uPlot: typeof uPlotType;
}
