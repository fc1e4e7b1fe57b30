export type ScreenId = 'join' | 'data' | 'consent' | 'training' | 'privacy' | 'history';

export const SCREENS: { id: ScreenId; title: string }[] = [
  { id: 'join', title: 'Join' },
  { id: 'data', title: 'Data' },
  { id: 'consent', title: 'Consent & budget' },
  { id: 'training', title: 'Training' },
  { id: 'privacy', title: 'Privacy' },
  { id: 'history', title: 'History & settings' },
];
