/**
 * Restart intensity: at most `intensity` restarts within any `period` ms.
 * One more and the supervisor shuts its children down and exits with
 * `shutdown`, handing the problem to its own supervisor (escalation). This
 * bounds a restart loop: a child that crashes at once on every start costs
 * at most intensity+1 starts before its supervisor gives up.
 */
export class RestartIntensity {
  private stamps: number[] = [];

  constructor(
    private readonly intensity: number,
    private readonly period: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Records a restart; false when it exceeds the intensity. */
  add(): boolean {
    const now = this.clock();
    this.stamps = this.stamps.filter((t) => now - t < this.period);
    this.stamps.push(now);
    return this.stamps.length <= this.intensity;
  }
}
