"""MTCNN crops: pure planning (propose, landmarks, hard examples), global balance and pixel cutting."""
