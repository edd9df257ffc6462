/**
 * The defect classes the scan reports by default (recipes may name others): the zoom model's classes, in the order
 * of its mask values (value = index + 1; 0 is background). The twin's synthetic samples draw these same classes.
 */
export const DEFECT_CLASSES = ['scratch', 'pit', 'particle', 'crack'] as const;
export type DefectClass = (typeof DEFECT_CLASSES)[number];
