/**
 * The device tests run on: the CPU unless LIVERSEG_TEST_DEVICE names another (scripts/gpu-check.sh
 * sets it to 'cuda' so the same test files exercise the CUDA build).
 */
export const testDevice: string = process.env.LIVERSEG_TEST_DEVICE ?? 'cpu';
export const onCpu = testDevice === 'cpu';
